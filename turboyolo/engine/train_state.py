"""TrainState: everything about a run that changes as it goes, in one object that saves and restores itself.

The fixed parts of a run (model, optimizer, loaders, strategy...) live in TrainingSetup; what the loop
moves forward (position, best so far, the results history) lives here, and only here is it written
into and read from a checkpoint's `train_state`.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TrainState:
    epoch: int = 0  # epochs fully done (the epoch a resumed run starts in)
    samples_in_epoch: int = 0  # global samples of `epoch` already trained on (a mid-epoch checkpoint)
    step: int = 0  # optimizer steps taken
    iteration: int = 0  # micro-steps taken (the schedule's clock)
    best_fitness: float = 0.0
    best_epoch: int = -1  # 0-based epoch of best.pt, -1 before the first
    bad_steps: int = 0  # non-finite steps in a row (not saved: a resume starts counting again)
    history: list = field(default_factory=list)  # one scalar row per finished epoch (results.csv is written from it)
    epoch_partial: dict = field(default_factory=dict)  # loss sums of `epoch`'s batches before a mid-epoch checkpoint
    stop_reason: str = ""  # why a run ended early for good (patience, max_steps); "" while it may go on
    train_time_s: float = 0.0  # wall seconds the run has trained, summed over its sessions up to this checkpoint (time=)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "samples_in_epoch": self.samples_in_epoch, "step": self.step,
                "iteration": self.iteration, "best_fitness": self.best_fitness, "best_epoch": self.best_epoch,
                "history": [dict(row) for row in self.history], "epoch_partial": dict(self.epoch_partial),
                "stop_reason": self.stop_reason, "train_time_s": self.train_time_s}

    def load_state_dict(self, state: dict, epoch: int, step: int) -> None:
        """state: a checkpoint's train_state; epoch, step: the checkpoint's top-level epoch and step."""
        self.epoch, self.step = int(epoch), int(step)
        self.samples_in_epoch = int(state["samples_in_epoch"])
        self.iteration = int(state["iteration"])
        self.best_fitness, self.best_epoch = float(state["best_fitness"]), int(state["best_epoch"])
        self.history = [dict(row) for row in state.get("history", [])][: self.epoch]
        self.epoch_partial = dict(state.get("epoch_partial") or {})
        self.stop_reason = str(state.get("stop_reason", ""))
        self.train_time_s = float(state.get("train_time_s", 0.0))
