"""A toy CNN with BatchNorm, a learnable toy data set, a training loop that drives any Strategy,
and a helper that runs a function on N spawned gloo ranks and returns each rank's result.

Stands in for the real detector in the distributed tests (the whole file runs in seconds on CPU).
"""
from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from turboyolo.config import build_config


class ToyNet(nn.Module):
    """(B, 3, 8, 8) images -> (B, 4) class logits; two conv+BN+ReLU blocks."""

    def __init__(self, classes: int = 4):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        )
        self.head = nn.Linear(16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean((2, 3)))


def toy_batch(index: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Global batch `index` of `size` images: noise plus a faint class-specific colour offset."""
    gen = torch.Generator().manual_seed(1000 + index)
    y = torch.randint(0, 4, (size,), generator=gen)
    offsets = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [-1.0, -1.0, -1.0]])
    x = torch.randn(size, 3, 8, 8, generator=gen) + offsets[y].view(size, 3, 1, 1)
    return x, y


def rank_slice(t: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    per = t.shape[0] // world
    return t[rank * per:(rank + 1) * per]


def cross_entropy_task(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    loss = F.cross_entropy(model(x), y)
    return loss, loss.detach()


class CommRecorder:
    """A stand-in StepTimer for TrainStep that keeps the exposed communication seconds it is given."""

    def __init__(self):
        self.exposed_comm_s = 0.0

    def lap(self, name: str) -> None:
        pass

    def add_seconds(self, name: str, seconds: float, taken_from: str | None = None) -> None:
        if name == "exposed_comm":
            self.exposed_comm_s += seconds


def train_toy(strategy, rank: int, world: int, steps: int, global_batch: int, accumulate: int = 1,
              lr: float = 0.1, momentum: float = 0.9, model: nn.Module | None = None, timer=None):
    """SGD on toy batches through `strategy` and the trainer's own TrainStep; returns (wrapped, optimizer,
    per-step mean losses)."""
    from turboyolo.engine.train_step import TrainStep

    if model is None:
        torch.manual_seed(0)
        model = ToyNet()
    wrapped = strategy.wrap(model)
    optimizer = strategy.make_optimizer(lambda m: torch.optim.SGD(m.parameters(), lr=lr, momentum=momentum), wrapped)
    runner = TrainStep(strategy, wrapped, cross_entropy_task, optimizer, loss_scale=1.0 / accumulate, timer=timer)
    losses = []
    for step in range(steps):
        step_loss = torch.zeros(())
        for micro in range(accumulate):
            x, y = toy_batch(step * accumulate + micro, global_batch)
            x, y = rank_slice(x, rank, world), rank_slice(y, rank, world)
            step_loss += runner.micro(x, y, communicate=micro == accumulate - 1) / accumulate
        runner.step(step + 1)
        losses.append(float(strategy.all_reduce(step_loss, "mean")))
    return wrapped, optimizer, losses


def _run_and_save(fn, out_dir: str, cfg):
    from turboyolo.distributed.factory import setup_distributed

    env, strategy = setup_distributed(cfg, quiet_workers=False)
    try:
        result = fn(cfg, env, strategy)
    finally:
        strategy.close()
    torch.save(result, Path(out_dir) / f"rank{env.rank}.pt")


def run_ranks(fn, world: int = 2, **overrides) -> list:
    """fn(cfg, env, strategy) on `world` spawned gloo ranks (fn must be module-level); results by rank."""
    from turboyolo.distributed.launch import launch

    cfg = build_config({"nproc": world, "threads": 1, "device": "cpu", **overrides})
    with tempfile.TemporaryDirectory() as out:
        launch(functools.partial(_run_and_save, fn, out), cfg, world)
        return [torch.load(os.path.join(out, f"rank{r}.pt"), weights_only=False) for r in range(world)]


def max_state_diff(a: dict, b: dict, parameters_only: bool = False) -> float:
    """Largest absolute difference over the floating-point entries of two state dicts."""
    assert a.keys() == b.keys(), set(a) ^ set(b)
    keys = [k for k in a if a[k].dtype.is_floating_point and not (parameters_only and "running_" in k)]
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in keys)
