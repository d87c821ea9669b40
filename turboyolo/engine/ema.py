"""Exponential moving average of model weights (validated and saved instead of the raw weights)."""
from __future__ import annotations

import copy
import math

import torch
from torch import nn

from turboyolo.config import default_of


class ModelEMA:
    """ema = d * ema + (1 - d) * model, with d ramping up as decay * (1 - exp(-updates / tau)).

    The ramp lets the average follow the fast early changes of a from-scratch run.
    """

    def __init__(self, model: nn.Module, decay: float = default_of("ema_decay"), tau: float = default_of("ema_tau"),
                 updates: int = 0):
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.decay, self.tau, self.updates = decay, tau, updates
        self._pairs = None

    def current_decay(self) -> float:
        return self.decay * (1 - math.exp(-self.updates / self.tau))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = self.current_decay()
        if self._pairs is None:
            src = [v for v in model.state_dict().values() if v.dtype.is_floating_point]
            dst = [v for v in self.module.state_dict().values() if v.dtype.is_floating_point]
            self._pairs = (dst, src)
        dst, src = self._pairs
        torch._foreach_lerp_(dst, src, 1.0 - d)  # one fused pass over all tensors

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])
        self._pairs = None
