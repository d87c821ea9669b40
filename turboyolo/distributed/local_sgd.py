"""sync=localsgd: post-local SGD (Lin et al. 2018) - synchronous DDP steps first, then local steps
with the models averaged every `period` optimizer steps.

Communication drops from every step to every `period` steps. Built on torch's post-local-SGD DDP
hook; the periodic averaging is ours, in place (torch's PeriodicModelAverager skips parameters
whose .grad is None - all of them once the trainer has freed the gradients - and its flat-buffer
views drop channels_last). Subgroups are passed explicitly (torch's default builds them from
the CUDA device count, which fails on CPU): on GPUs the ranks of one node keep all-reducing
gradients over their fast local links; on CPU each rank steps alone between averagings.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.algorithms.ddp_comm_hooks import post_localSGD_hook

from turboyolo.config import default_of
from turboyolo.distributed.comm_hooks import CommTimer
from turboyolo.distributed.ddp import DDPOptions, wrap_ddp
from turboyolo.distributed.env import DistEnv
from turboyolo.distributed.group_strategy import ProcessGroupStrategy, average_in_place, float_buffers


def node_subgroups(world_size: int, ranks_per_group: int):
    """Explicit subgroups of consecutive ranks; returns this rank's group (every rank creates all)."""
    groups = [list(range(start, min(start + ranks_per_group, world_size))) for start in range(0, world_size, ranks_per_group)]
    mine, _ = dist.new_subgroups_by_enumeration(groups)
    return mine


class LocalSGDStrategy(ProcessGroupStrategy):
    """Fully synchronous for `warmup` optimizer steps (config: localsgd_warmup), then average the
    models every `period` steps. ddp_options: the DDP wrap of the synchronous steps (its comm hook
    is local SGD's own, so grad_compression does not apply)."""

    name = "localsgd"

    def __init__(self, env: DistEnv, ddp_options: DDPOptions | None = None, *, period: int = default_of("period"),
                 warmup: int = default_of("localsgd_warmup"), sync_bn: bool = default_of("sync_bn"), watchdog=None):
        super().__init__(env, sync_bn=sync_bn, watchdog=watchdog)
        self.ddp_options = ddp_options if ddp_options is not None else DDPOptions()
        self.period = int(period)
        self.warmup = int(warmup)
        self.intra_node_allreduce = env.device.type == "cuda" and env.local_world_size > 1

    def wrap(self, model: nn.Module) -> nn.Module:
        ddp = wrap_ddp(self.prepare_model(model), self.env, self.ddp_options)
        size = self.env.local_world_size if self.intra_node_allreduce else 1
        state = post_localSGD_hook.PostLocalSGDState(
            process_group=None, subgroup=node_subgroups(self.env.world_size, size),
            start_localSGD_iter=self.warmup, post_local_gradient_allreduce=self.intra_node_allreduce,
        )
        self.comm_timer = CommTimer()
        ddp.register_comm_hook(state, self.comm_timer.wrap(post_localSGD_hook.post_localSGD_hook))
        return ddp

    def forward_backward_context(self, wrapped: nn.Module, reduce_gradients: bool):
        if not reduce_gradients:
            return wrapped.no_sync()
        return self.watch("forward+backward (local SGD gradient hook)")

    def after_step(self, wrapped: nn.Module, step: int) -> None:
        """step: optimizer steps done (1 after the first). Average when a local period ends."""
        super().after_step(wrapped, step)
        if step <= self.warmup or (step - self.warmup) % self.period != 0:
            return
        model = self.unwrap(wrapped)
        with self.watch("local SGD model averaging"):
            # parameters and BN running statistics (which drift apart too), one all-reduce
            average_in_place(list(model.parameters()) + float_buffers(model))

    def unify_eval_state(self, module: nn.Module) -> None:
        """Average the weights to validate or save (the live model or its EMA, which is linear in
        the weights, so the average of the ranks' EMAs is the EMA of the averaged models)."""
        with self.watch("local SGD averaging for validation"):
            average_in_place(list(module.parameters()) + float_buffers(module))

    def model_state(self, wrapped: nn.Module) -> dict[str, torch.Tensor]:
        """The rank-averaged model (collective: every rank calls it); the live model is not changed."""
        state = {k: v.detach().clone() for k, v in self.unwrap(wrapped).state_dict().items()}
        with self.watch("local SGD state averaging"):
            average_in_place([v for v in state.values() if v.dtype.is_floating_point])
        return state
