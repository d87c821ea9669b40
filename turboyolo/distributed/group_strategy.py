"""Base of every torch.distributed strategy: collectives on the default process group, SyncBN, watchdog.

DDP, local SGD, ZeRO and FSDP differ in how they wrap the model and step the optimizer; they all
share the collectives below. Each collective runs under a watchdog label, so a hang is reported
with the name of the collective it happened in.
"""
from __future__ import annotations

import contextlib
import sys
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from turboyolo.config import default_of
from turboyolo.distributed.env import DistEnv
from turboyolo.distributed.strategy import Strategy
from turboyolo.distributed.sync_bn import convert_sync_batchnorm

_OPS = {"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN, "mean": dist.ReduceOp.SUM}


class ProcessGroupStrategy(Strategy):
    """Collectives over the default process group (which must be initialised before construction)."""

    name = "process_group"

    comm_timer = None  # a CommTimer when the wrapped model's comm hook is timed (DDP, local SGD)

    def pop_exposed_comm_s(self) -> float:
        return self.comm_timer.pop_exposed_s() if self.comm_timer is not None else 0.0

    def __init__(self, env: DistEnv, *, sync_bn: bool = default_of("sync_bn"), watchdog=None):
        super().__init__(env)
        if not dist.is_initialized():
            raise RuntimeError(f"{type(self).__name__} needs an initialised process group; use setup_distributed(cfg)")
        self.backend = dist.get_backend()
        self.sync_bn = bool(sync_bn)
        self.watchdog = watchdog

    def watch(self, collective: str):
        """Label the enclosed code for the hang watchdog (no-op without one)."""
        return self.watchdog.collective(collective) if self.watchdog is not None else contextlib.nullcontext()

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """Steps every distributed wrap shares: SyncBN conversion when sync_bn."""
        if self.sync_bn:
            model = convert_sync_batchnorm(model)
        return model

    def unify_eval_state(self, module: nn.Module) -> None:
        """Rank 0's BatchNorm statistics to every rank (what DDP's broadcast_buffers does each forward)."""
        with self.watch("broadcast of BatchNorm statistics"):
            broadcast_in_place(float_buffers(module), src=0)

    def after_step(self, wrapped: nn.Module, step: int) -> None:
        if self.watchdog is not None:
            self.watchdog.step = step

    # --- collectives ---------------------------------------------------------------------
    def all_reduce(self, tensor: torch.Tensor, op: str = "sum") -> torch.Tensor:
        """In place over all ranks; op in sum, mean, max, min. CPU tensors work on NCCL too (copied)."""
        if op not in _OPS:
            raise ValueError(f"all_reduce op={op!r}: expected one of {', '.join(_OPS)}")
        work = tensor
        if self.backend == "nccl" and tensor.device.type != "cuda":
            work = tensor.to(self.env.device)
        with self.watch(f"all_reduce({op})"):
            dist.all_reduce(work, op=_OPS[op])  # gloo has no AVG: mean = sum / world
        if op == "mean":
            work.div_(self.env.world_size)
        if work is not tensor:
            tensor.copy_(work)
        return tensor

    def gather_objects(self, obj: Any) -> list[Any] | None:
        out = [None] * self.env.world_size if self.env.is_main else None
        with self.watch("gather_objects"):
            dist.gather_object(obj, out, dst=0)
        return out

    def broadcast_object(self, obj: Any, src: int = 0) -> Any:
        box = [obj]
        with self.watch("broadcast_object"):
            dist.broadcast_object_list(box, src=src)
        return box[0]

    def barrier(self) -> None:
        with self.watch("barrier"):
            dist.barrier()

    def close(self) -> None:
        """Leave the group; while an exception is propagating, leave it to process exit instead, so
        this rank's error is reported before its peers fail with 'connection closed by peer'."""
        from turboyolo.distributed.process_group import destroy_process_group

        if self.watchdog is not None:
            self.watchdog.stop()
            self.watchdog = None
        if sys.exc_info()[0] is None:
            destroy_process_group()


def broadcast_module_state(model: nn.Module, src: int = 0) -> None:
    """Make every rank's parameters and buffers equal to rank `src`'s (before sharding or local steps)."""
    with torch.no_grad():
        for tensor in list(model.parameters()) + list(model.buffers()):
            dist.broadcast(tensor.data, src=src)


def float_buffers(model: nn.Module) -> list[torch.Tensor]:
    """BatchNorm running statistics and other float buffers (integer counters excluded)."""
    return [b for b in model.buffers() if b.dtype.is_floating_point]


def broadcast_in_place(tensors: list[torch.Tensor], src: int = 0) -> None:
    """Rank `src`'s values into every rank's tensors, in place, with one broadcast for all."""
    if not tensors:
        return
    flat = torch.cat([t.detach().reshape(-1).float() for t in tensors])
    dist.broadcast(flat, src=src)
    _unflatten_into(flat, tensors)


def _unflatten_into(flat: torch.Tensor, tensors: list[torch.Tensor]) -> None:
    offset = 0
    for t in tensors:
        t.detach().copy_(flat[offset:offset + t.numel()].view_as(t))
        offset += t.numel()


def average_in_place(tensors: list[torch.Tensor]) -> None:
    """Mean over ranks, in place (memory format kept), with one all-reduce for all tensors."""
    if not tensors:
        return
    flat = torch.cat([t.detach().reshape(-1).float() for t in tensors])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    _unflatten_into(flat, tensors)
