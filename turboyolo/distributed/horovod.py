"""engine=horovod: the same trainer on Horovod (`horovodrun -np 2 -H localhost:2 --gloo ...`).

Optional: horovod is imported only here, only when engine=horovod. Horovod 0.28.1 does not build
against current torch as published; scripts/install_horovod.sh builds a patched copy.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable

import torch
from torch import nn

from turboyolo.config import default_of
from turboyolo.distributed.env import DistEnv, select_device
from turboyolo.distributed.strategy import Strategy

_HVD = None


def _hvd():
    global _HVD
    if _HVD is None:
        try:
            import horovod.torch as hvd
        except ImportError as err:
            raise RuntimeError(
                "engine=horovod needs Horovod with PyTorch support, which is not importable here "
                f"({err}). Build it with scripts/install_horovod.sh, or use engine=torch."
            ) from err
        _HVD = hvd
    return _HVD


def init_horovod(device_key: str | None) -> DistEnv:
    """hvd.init() and the DistEnv it implies (ranks come from horovodrun, not torchrun).

    device_key: the config's `device`, as for read_env."""
    hvd = _hvd()
    hvd.init()
    device = select_device(device_key, hvd.local_rank())
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return DistEnv(hvd.rank(), hvd.local_rank(), hvd.size(), hvd.local_size(), device)


class HorovodStrategy(Strategy):
    """horovod.torch DistributedOptimizer; parameters and optimizer state broadcast from rank 0.

    grad_compression: none or fp16 (Horovod's compressions). Horovod averages gradients as DDP
    does; it has no other sync mode and no SyncBN (factory.make_strategy refuses those settings).
    """

    name = "horovod"

    def __init__(self, env: DistEnv, *, grad_compression: str = default_of("grad_compression")):
        super().__init__(env)
        self.hvd = _hvd()
        if grad_compression not in ("none", "fp16"):
            raise RuntimeError(f"engine=horovod supports grad_compression=none|fp16 (got {grad_compression})")
        self.compression = self.hvd.Compression.fp16 if grad_compression == "fp16" else self.hvd.Compression.none
        self._optimizer = None

    def wrap(self, model: nn.Module) -> nn.Module:
        # Horovod refuses non-contiguous tensors, and channels_last weights have channels_last
        # gradients. Contiguous weights with channels_last inputs still run channels_last
        # convolutions (the input's format decides) while their gradients follow the weights.
        model = model.to(memory_format=torch.contiguous_format)
        self.hvd.broadcast_parameters(model.state_dict(), root_rank=0)
        return model

    def make_optimizer(self, factory: Callable[[nn.Module], torch.optim.Optimizer], wrapped: nn.Module):
        optimizer = factory(wrapped)
        self.hvd.broadcast_optimizer_state(optimizer, root_rank=0)
        self._optimizer = self.hvd.DistributedOptimizer(optimizer, named_parameters=wrapped.named_parameters(),
                                                        compression=self.compression, op=self.hvd.Average)
        return self._optimizer

    @contextlib.contextmanager
    def forward_backward_context(self, wrapped: nn.Module, reduce_gradients: bool):
        """reduce_gradients=False: raise each parameter's all-reduce countdown by one so this backward only
        accumulates locally (Horovod fires the all-reduce when the countdown reaches zero)."""
        if not reduce_gradients and self._optimizer is not None:
            delay = self._optimizer._allreduce_delay
            for p in delay:
                delay[p] += 1
        yield

    def optimizer_step(self, optimizer, scaler, params, max_norm: float) -> bool:
        optimizer.synchronize()  # gradients averaged before unscaling and clipping
        with optimizer.skip_synchronize():
            return super().optimizer_step(optimizer, scaler, params, max_norm)

    def zero_grad(self, optimizer) -> None:
        """Horovod refuses zero_grad while all-reduces are in flight (a skipped step after a
        micro-step that communicated): wait for them first."""
        if optimizer._handles:
            optimizer.synchronize()
        optimizer.zero_grad()

    def load_optimizer_state(self, optimizer, state: dict[str, Any]) -> None:
        optimizer.load_state_dict(state)
        self.hvd.broadcast_optimizer_state(optimizer, root_rank=0)

    def unify_eval_state(self, module: nn.Module) -> None:
        """Rank 0's BatchNorm statistics to every rank (Horovod averages gradients only)."""
        for i, buffer in enumerate(b for b in module.buffers() if b.dtype.is_floating_point):
            self.hvd.broadcast_(buffer.data, root_rank=0, name=f"turboyolo.buffer.{i}")

    # --- collectives ---------------------------------------------------------------------
    def all_reduce(self, tensor: torch.Tensor, op: str = "sum") -> torch.Tensor:
        ops = {"sum": self.hvd.Sum, "mean": self.hvd.Average, "max": self.hvd.Max, "min": self.hvd.Min}
        tensor.copy_(self.hvd.allreduce(tensor, op=ops[op]))
        return tensor

    def gather_objects(self, obj: Any) -> list[Any] | None:
        # Horovod matches collectives across ranks by name, and its default name is the object's
        # type, which differs between ranks (a dict on rank 0, None elsewhere): always name them
        gathered = self.hvd.allgather_object(obj, name="turboyolo.gather_objects")
        return gathered if self.env.is_main else None

    def broadcast_object(self, obj: Any, src: int = 0) -> Any:
        return self.hvd.broadcast_object(obj, root_rank=src, name="turboyolo.broadcast_object")

    def barrier(self) -> None:
        self.hvd.barrier()

    def close(self) -> None:
        self.hvd.shutdown()
