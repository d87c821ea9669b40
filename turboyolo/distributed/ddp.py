"""sync=ddp: DistributedDataParallel, bucketed gradient all-reduce overlapped with the backward pass."""
from __future__ import annotations

from torch import nn
from torch.nn.parallel import DistributedDataParallel

from turboyolo.distributed.comm_hooks import CommTimer, register_compression_hook
from turboyolo.distributed.group_strategy import ProcessGroupStrategy


def wrap_ddp(model: nn.Module, cfg, env, backend: str) -> DistributedDataParallel:
    """DDP with the config's bucket size, graph and hook settings (shared by DDP, ZeRO and local SGD)."""
    return DistributedDataParallel(
        model,
        device_ids=[env.device.index] if env.device.type == "cuda" else None,
        bucket_cap_mb=float(cfg.get("bucket_cap_mb", 25.0)),
        static_graph=bool(cfg.get("static_graph", False)),
        gradient_as_bucket_view=bool(cfg.get("gradient_as_bucket_view", True)),
        find_unused_parameters=bool(cfg.get("find_unused_parameters", False)),
        broadcast_buffers=bool(cfg.get("broadcast_buffers", True)),
    )


class DDPStrategy(ProcessGroupStrategy):
    """Every rank holds the whole model; gradients are averaged each optimizer step.

    Accumulation: ``forward_backward_context(wrapped, reduce_gradients=False)`` is DDP's ``no_sync()``, so only the last
    micro-step of an accumulation window communicates.
    """

    name = "ddp"

    def wrap(self, model: nn.Module) -> nn.Module:
        ddp = wrap_ddp(self.prepare_model(model), self.cfg, self.env, self.backend)
        self.comm_timer = CommTimer()
        self.hook_state = register_compression_hook(
            ddp, self.cfg.get("grad_compression", "none"), self.backend, int(self.cfg.get("powersgd_rank", 2)),
            timer=self.comm_timer)
        return ddp

    def forward_backward_context(self, wrapped: nn.Module, reduce_gradients: bool):
        if not reduce_gradients:
            return wrapped.no_sync()
        return self.watch("forward+backward (DDP gradient all-reduce)")
