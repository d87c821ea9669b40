"""Learning-rate, momentum and accumulation schedule: linear warm-up, then linear or cosine decay.

Stateless: everything is a function of (epoch, micro-step), so resume needs no scheduler state.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

# Short runs still need ~100 micro-steps of warm-up for BatchNorm statistics to settle.
MIN_WARMUP_ITERS = 100


@dataclass(frozen=True)
class Schedule:
    lr0: float
    lrf: float
    epochs: int
    kind: str  # "linear" | "cosine"
    warmup_iters: int
    warmup_bias_lr: float
    warmup_momentum: float
    momentum: float
    micro_steps_per_step: int  # nominal (Derived.micro_steps_per_step); ramped up during warm-up

    @classmethod
    def from_config(cls, cfg, lr0: float, micro_steps_per_step: int, batches_per_epoch: int) -> "Schedule":
        warmup = 0 if cfg.warmup_epochs <= 0 else max(round(cfg.warmup_epochs * batches_per_epoch), MIN_WARMUP_ITERS)
        return cls(lr0, cfg.lrf, cfg.epochs, cfg.lr_schedule, warmup, cfg.warmup_bias_lr, cfg.warmup_momentum, cfg.momentum,
                   micro_steps_per_step)

    def epoch_factor(self, epoch: int) -> float:
        """LR multiplier for an epoch after warm-up: 1 at epoch 0, lrf at the last epoch."""
        x = epoch / max(self.epochs - 1, 1)
        if self.kind == "cosine":
            return self.lrf + (1 - self.lrf) * (1 + math.cos(math.pi * x)) / 2
        return 1 - x * (1 - self.lrf)

    def at(self, epoch: int, iteration: int) -> dict:
        """Hyper-parameters at a global micro-step `iteration` in `epoch`.

        Returns {"lr": per-group LRs [weights, norm, bias], "momentum", "micro_steps_per_step"}.
        """
        target = self.lr0 * self.epoch_factor(epoch)
        if iteration >= self.warmup_iters:
            return {"lr": [target] * 3, "momentum": self.momentum, "micro_steps_per_step": self.micro_steps_per_step}
        w = iteration / self.warmup_iters
        # Biases start high (they learn the priors first), weights start at 0.
        bias_lr = self.warmup_bias_lr + (target - self.warmup_bias_lr) * w
        momentum = self.warmup_momentum + (self.momentum - self.warmup_momentum) * w
        # Step more often early on: micro-steps per step ramp from 1 to their nominal value.
        micro_steps = max(1, round(1 + (self.micro_steps_per_step - 1) * w))
        return {"lr": [target * w, target * w, bias_lr], "momentum": momentum, "micro_steps_per_step": micro_steps}


def apply(optimizer, hyper: dict) -> None:
    for group, lr in zip(optimizer.param_groups, hyper["lr"]):
        group["lr"] = lr
        if "momentum" in group:
            group["momentum"] = hyper["momentum"]
        elif "betas" in group:
            group["betas"] = (hyper["momentum"], group["betas"][1])
