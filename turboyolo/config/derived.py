"""Values derived from the config and the world size, computed in one place and logged once.

`batch` is the GLOBAL batch: the same config gives the same optimisation at any world size.
Gradients are accumulated up to the nominal batch `nbs`, and learning rate and weight decay are
expressed at that nominal batch.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from turboyolo.config.loader import Config, ConfigError


@dataclass(frozen=True)
class Derived:
    world_size: int
    global_batch: int  # images per micro-step, all ranks together
    per_rank_batch: int  # images per micro-step on one rank
    micro_steps_per_step: int  # micro-steps per optimizer step (after warm-up): cfg.accumulate, or 0 resolved from nbs
    effective_batch: int  # images per optimizer step = global_batch * micro_steps_per_step
    lr0: float  # base LR after lr_scaling
    weight_decay: float  # weight decay scaled to the effective batch

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return (
            f"global batch {self.global_batch} = {self.world_size} rank(s) x {self.per_rank_batch}, "
            f"accumulate {self.micro_steps_per_step} -> {self.effective_batch} images/step, "
            f"lr0 {self.lr0:.6g}, weight_decay {self.weight_decay:.6g}"
        )


def derive(cfg: Config, world_size: int, base_lr: float | None = None) -> Derived:
    """base_lr: the optimizer's base LR at the nominal batch (cfg.lr0 unless optimizer=auto picked one)."""
    global_batch = int(cfg.batch)
    if global_batch % world_size:
        raise ConfigError(
            f"batch={global_batch} is the global batch and must be divisible by the world size {world_size} "
            f"(try batch={math.ceil(global_batch / world_size) * world_size})"
        )
    per_rank = global_batch // world_size
    micro_steps = int(cfg.accumulate) or max(round(cfg.nbs / global_batch), 1)
    effective = global_batch * micro_steps
    ratio = effective / cfg.nbs
    lr = cfg.lr0 if base_lr is None else base_lr
    scale = {"none": 1.0, "linear": ratio, "sqrt": math.sqrt(ratio)}[cfg.lr_scaling]
    return Derived(world_size, global_batch, per_rank, micro_steps, effective, lr * scale, cfg.weight_decay * ratio)
