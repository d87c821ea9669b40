"""sync=ddp: DistributedDataParallel, bucketed gradient all-reduce overlapped with the backward pass."""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn
from torch.nn.parallel import DistributedDataParallel

from turboyolo.config import default_of
from turboyolo.distributed.comm_hooks import CommTimer, register_compression_hook
from turboyolo.distributed.env import DistEnv
from turboyolo.distributed.group_strategy import ProcessGroupStrategy


@dataclass(frozen=True)
class DDPOptions:
    """How DDP buckets and communicates gradients (shared by DDP, ZeRO and local SGD).

    Each field is the config key of the same name; see turboyolo/config/default.yaml.
    """

    bucket_cap_mb: float = default_of("bucket_cap_mb")
    static_graph: bool = default_of("static_graph")
    gradient_as_bucket_view: bool = default_of("gradient_as_bucket_view")
    find_unused_parameters: bool = default_of("find_unused_parameters")
    broadcast_buffers: bool = default_of("broadcast_buffers")
    grad_compression: str = default_of("grad_compression")
    powersgd_rank: int = default_of("powersgd_rank")


def wrap_ddp(model: nn.Module, env: DistEnv, options: DDPOptions) -> DistributedDataParallel:
    """DDP with the bucket size and graph settings of `options` (its comm hook is the caller's)."""
    return DistributedDataParallel(
        model,
        device_ids=[env.device.index] if env.device.type == "cuda" else None,
        bucket_cap_mb=float(options.bucket_cap_mb),
        static_graph=bool(options.static_graph),
        gradient_as_bucket_view=bool(options.gradient_as_bucket_view),
        find_unused_parameters=bool(options.find_unused_parameters),
        broadcast_buffers=bool(options.broadcast_buffers),
    )


class DDPStrategy(ProcessGroupStrategy):
    """Every rank holds the whole model; gradients are averaged each optimizer step.

    Accumulation: ``forward_backward_context(wrapped, reduce_gradients=False)`` is DDP's ``no_sync()``, so only the last
    micro-step of an accumulation window communicates.
    """

    name = "ddp"

    def __init__(self, env: DistEnv, ddp_options: DDPOptions | None = None, *, sync_bn: bool = default_of("sync_bn"),
                 watchdog=None):
        super().__init__(env, sync_bn=sync_bn, watchdog=watchdog)
        self.ddp_options = ddp_options if ddp_options is not None else DDPOptions()

    def wrap(self, model: nn.Module) -> nn.Module:
        ddp = wrap_ddp(self.prepare_model(model), self.env, self.ddp_options)
        self.comm_timer = CommTimer()
        self.hook_state = register_compression_hook(ddp, self.ddp_options.grad_compression, self.backend,
                                                    int(self.ddp_options.powersgd_rank), timer=self.comm_timer)
        return ddp

    def forward_backward_context(self, wrapped: nn.Module, reduce_gradients: bool):
        if not reduce_gradients:
            return wrapped.no_sync()
        return self.watch("forward+backward (DDP gradient all-reduce)")
