"""sync=zero: DDP gradients + ZeroRedundancyOptimizer, each rank holding 1/world of the optimizer state.

Optimizer state (SGD momentum, Adam moments) is the largest per-rank memory after activations for
big models; ZeRO stage 1 shards it and broadcasts updated parameters after each step.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

import torch
from torch import nn
from torch.distributed.optim import ZeroRedundancyOptimizer

from turboyolo.distributed.ddp import DDPStrategy


class ZeroStrategy(DDPStrategy):
    """DDP for gradients, ZeroRedundancyOptimizer for the update.

    optimizer_state() is collective (every rank calls it) and returns the full consolidated state
    on rank 0, None elsewhere. load_optimizer_state() expects that full state on every rank.
    """

    name = "zero"

    def make_optimizer(self, factory: Callable[[nn.Module], torch.optim.Optimizer], wrapped: nn.Module):
        template = factory(self.unwrap(wrapped))  # the factory decides groups and hyper-parameters
        groups = [dict(group) for group in template.param_groups]
        # only what the constructor accepts: defaults may hold derived keys (AdamW's decoupled_weight_decay)
        accepted = inspect.signature(type(template).__init__).parameters
        defaults = {k: v for k, v in template.defaults.items() if k in accepted and k != "params"}
        return ZeroRedundancyOptimizer(groups, optimizer_class=type(template), **defaults)

    def optimizer_state(self, optimizer) -> dict[str, Any] | None:
        with self.watch("ZeRO optimizer state consolidation"):
            optimizer.consolidate_state_dict(to=0)
        return optimizer.state_dict() if self.env.is_main else None

    def load_optimizer_state(self, optimizer, state: dict[str, Any]) -> None:
        optimizer.load_state_dict(state)
