"""What the loss costs inside a training step, and the step's ceiling without it.

    figures = measure_loss_share(model, loss_fn, images, targets, device, amp_dtype, rounds=5)

Three timings, each a median over `rounds`, taken in alternation (one of each per round) so that
drift on a shared machine hits all of them alike:
  loss_s          the loss alone, forward + backward, on the model's raw maps (fixed inputs)
  step_s          a full training step: forward (autocast) + loss + backward + optimizer step
  model_only_s    the same step without the loss: the raw maps get a fixed gradient instead
loss_share = (step_s - model_only_s) / step_s is what the loss takes from a real step (its forward,
its backward through the maps, and what it does to the caches); images/s of both steps tell how
close training runs to the model-only ceiling.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

import torch
from torch import nn

from turboyolo.engine.amp import autocast

WARMUP_ROUNDS = 1


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_loss_share(model: nn.Module, loss_fn, images: torch.Tensor, targets: torch.Tensor,
                       device: torch.device, amp_dtype: torch.dtype | None, rounds: int,
                       clock: Callable[[], float] = time.perf_counter) -> dict:
    """model: in train mode, on device; loss_fn(raw_maps, targets) -> (loss, components);
    images (B, 3, H, W) on device; targets (N, 6) as the loader gives them. Returns seconds and
    images/s (see the module docstring). The model's weights move (a tiny-LR AdamW step per step).

    clock: wall time by default; time.process_time counts this process's CPU seconds instead, which
    other processes on a crowded machine do not inflate (meaningful with one torch thread: with
    more, idle workers' spinning counts too)."""
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-7)

    def forward():
        with autocast(device, amp_dtype):
            return model(images)

    with torch.no_grad():
        fixed_maps = [m.detach() for m in forward()]
    fixed_grads = [torch.randn_like(m) * 1e-3 for m in fixed_maps]

    leaf_maps = [m.requires_grad_() for m in fixed_maps]

    def loss_alone():
        loss, _ = loss_fn(leaf_maps, targets)
        loss.backward()
        for m in leaf_maps:
            m.grad = None

    def step(with_loss: bool):
        raw = forward()
        if with_loss:
            loss_fn(raw, targets)[0].backward()
        else:
            torch.autograd.backward(raw, fixed_grads)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    phases = {"loss_s": loss_alone, "step_s": lambda: step(True), "model_only_s": lambda: step(False)}
    times: dict[str, list[float]] = {name: [] for name in phases}
    for round_index in range(WARMUP_ROUNDS + rounds):
        for name, phase in phases.items():
            _sync(device)
            start = clock()
            phase()
            _sync(device)
            if round_index >= WARMUP_ROUNDS:
                times[name].append(clock() - start)
    figures = {name: statistics.median(values) for name, values in times.items()}
    batch = images.shape[0]
    figures["step_images_per_s"] = batch / figures["step_s"]
    figures["model_only_images_per_s"] = batch / figures["model_only_s"]
    figures["loss_share"] = max(figures["step_s"] - figures["model_only_s"], 0.0) / figures["step_s"]
    figures["loss_alone_share"] = figures["loss_s"] / figures["step_s"]
    figures["rounds"] = rounds
    return figures
