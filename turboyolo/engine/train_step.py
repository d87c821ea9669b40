"""One training micro-step, written once: the trainer, the distributed tests and the benchmarks all
call it, so a test of a strategy checks the order the trainer really uses.

    micro(images, targets, communicate)  sync context -> forward + loss (the task) -> backward
                                         -> exposed communication moved out of "backward"
    step(step_number)                    optimizer step (unscale, clip, skip if non-finite) -> zero_grad
                                         -> EMA update -> strategy.after_step (local SGD averaging)

The task is the seam where forward and loss meet (`DetectionTask`; distillation plugs in here).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from turboyolo.engine import amp as amp_lib


class DetectionTask:
    """Forward (under autocast) and the detection loss: task(model, images, targets) -> (loss, components).

    images: (B, 3, H, W) float in [0, 1]; targets: (N, 6) image index, class, xywh normalised.
    loss: scalar, summed over the batch; components: (3,) detached box, cls, dfl.
    """

    def __init__(self, loss_fn: Callable, device: torch.device, amp_dtype: torch.dtype | None):
        self.loss_fn, self.device, self.amp_dtype = loss_fn, device, amp_dtype

    def __call__(self, model: nn.Module, images: torch.Tensor, targets: torch.Tensor):
        with amp_lib.autocast(self.device, self.amp_dtype):
            raw = model(images)
        return self.loss_fn(raw, targets)


class _NoTimer:
    def lap(self, name: str) -> None:
        pass

    def add_seconds(self, name: str, seconds: float, taken_from: str | None = None) -> None:
        pass


class TrainStep:
    """strategy: the Strategy that wrapped `wrapped` and made `optimizer`; task(model, images, targets)
    -> (loss, components); loss_scale multiplies the loss before backward (the trainer's sum-reduced
    loss x world size makes gradients equal one process with the global batch); timer: a StepTimer or None;
    model: the plain model the EMA follows and whose trainable parameters are clipped (default: unwrapped).
    """

    def __init__(self, strategy, wrapped: nn.Module, task: Callable, optimizer, *, scaler=None, ema=None,
                 grad_clip: float | None = None, loss_scale: float = 1.0, timer=None, model: nn.Module | None = None):
        self.strategy, self.wrapped, self.task, self.optimizer = strategy, wrapped, task, optimizer
        self.scaler, self.ema, self.loss_scale = scaler, ema, loss_scale
        self.grad_clip = grad_clip or 0.0  # None: no clipping (the trainer passes cfg.grad_clip)
        self.timer = timer if timer is not None else _NoTimer()
        self.model = model if model is not None else strategy.unwrap(wrapped)
        self.params = [p for p in self.model.parameters() if p.requires_grad]

    def micro(self, images: torch.Tensor, targets, communicate: bool = True) -> torch.Tensor:
        """Forward, loss and backward of one micro-batch; communicate=False accumulates locally (no_sync)."""
        with self.strategy.forward_backward_context(self.wrapped, reduce_gradients=communicate):
            loss, components = self.task(self.wrapped, images, targets)
            self.timer.lap("forward")
            scaled = loss * self.loss_scale
            (self.scaler.scale(scaled) if self.scaler else scaled).backward()
            self.timer.lap("backward")
        if communicate:  # communication the backward had to wait for, moved out of "backward"
            self.timer.add_seconds("exposed_comm", self.strategy.pop_exposed_comm_s(), taken_from="backward")
        return components

    def step(self, step_number: int) -> bool:
        """The optimizer step after the micro-steps; False (nothing updated) when the gradients were not finite.

        step_number: the count of optimizer steps once this one is taken (local SGD's period uses it).
        """
        stepped = self.strategy.optimizer_step(self.optimizer, self.scaler, self.params, self.grad_clip)
        self.strategy.zero_grad(self.optimizer)
        if stepped:
            if self.ema is not None:
                self.ema.update(self.model)
            self.strategy.after_step(self.wrapped, step_number)
        self.timer.lap("optimizer")
        return stepped
