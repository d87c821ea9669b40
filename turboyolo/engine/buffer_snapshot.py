"""Undo what a skipped optimizer step's forward passes wrote into the model's buffers.

A forward pass in train mode updates BatchNorm running statistics before anyone knows whether the
loss is finite. When the step is then skipped, one NaN batch would stay in those statistics, reach
the EMA with the next update and make every later checkpoint output NaN. The snapshot is taken
before the first micro-step of each optimizer step and copied back in place when the step is
skipped (in place: the EMA holds references to these tensors).
"""
from __future__ import annotations

import torch
from torch import nn


class BufferSnapshot:
    def __init__(self, model: nn.Module):
        self.live = [b for b in model.buffers()]
        self.saved = [b.detach().clone() for b in self.live]

    @torch.no_grad()
    def take(self) -> None:
        if self.live:
            torch._foreach_copy_(self.saved, self.live)

    @torch.no_grad()
    def restore(self) -> None:
        if self.live:
            torch._foreach_copy_(self.live, self.saved)
