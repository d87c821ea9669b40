"""time=HOURS: the run's epochs planned to fit a wall-clock budget, from measured epoch times.

After every training epoch (before its validation) the plan is made again: the most epochs whose
training, their validations and the closing validation of best.pt fit in what is left. The plan
becomes the run's `epochs`, so the LR decay, close_mosaic and the last validation all follow it, and
the run ends as a normal one does (best.pt, last.pt, results.csv). Inside an epoch the budget is
checked every few optimizer steps; when it runs out there, that epoch becomes the last.

The budget is the run's training time in all: setup included, and on resume the time the
checkpoint had trained counts (what a kill lost after the checkpoint does not), so a resumed run
plans with what is left.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

# A validation image costs about this share of a training image's time (forward only, no
# augmentation, plus NMS and matching); used only until the run has measured a validation.
VAL_IMAGE_COST = 0.5
MAX_EPOCHS = 100_000  # the epochs= key's upper bound


@dataclass(frozen=True)
class EpochCost:
    """Measured cost of the run's epochs, seconds."""

    train_full_s: float  # one training epoch at imgsz
    val_s: float  # one validation


def measured_cost(rows: list[dict], full_size: int, train_images: int, val_images: int) -> EpochCost:
    """The cost model from results rows (latest last; the newest may lack validation yet).

    Training time is scaled to imgsz by pixels (rows' train_imgsz), which overestimates a small
    progressive epoch's full-size cost (fixed per-step overheads): the plan errs on the short side.
    """
    latest = rows[-1]
    pixel_share = (float(latest.get("train_imgsz", full_size)) / full_size) ** 2
    train_full_s = float(latest["epoch_s"]) / pixel_share
    measured_val = [float(r["val_s"]) for r in rows if r.get("val_s") not in (None, "")]
    if measured_val:
        val_s = measured_val[-1]
    else:
        val_s = train_full_s * VAL_IMAGE_COST * val_images / max(train_images, 1)
    return EpochCost(train_full_s, val_s)


def wall_clock() -> float:
    """Seconds on a clock that never goes back (the budget's; tests replace it to make time pass)."""
    return time.monotonic()


class TimeBudget:
    """hours: the budget (0 = none). Clock starts at construction; trained_before_s adds earlier sessions."""

    def __init__(self, hours: float, clock: Callable[[], float] | None = None):
        self.budget_s = float(hours) * 3600.0
        self.clock = clock or (lambda: wall_clock())
        self.started = self.clock()
        self.trained_before_s = 0.0
        self.spent = False  # ran out inside an epoch: no further epoch is planned

    def continue_run(self, hours: float, trained_before_s: float) -> None:
        """The run's budget and earlier training time, known once setup has read a resumed checkpoint
        (whose saved time= applies unless the command gave another)."""
        self.budget_s = float(hours) * 3600.0
        self.trained_before_s = float(trained_before_s)

    @property
    def enabled(self) -> bool:
        return self.budget_s > 0

    def elapsed_s(self) -> float:
        """Training time of the run so far, this session and the ones before its checkpoint."""
        return self.trained_before_s + self.clock() - self.started

    def remaining_s(self) -> float:
        return self.budget_s - self.elapsed_s()

    def runs_out(self, reserve_s: float) -> bool:
        """True once less than reserve_s is left (then stays True)."""
        self.spent = self.spent or self.remaining_s() < reserve_s
        return self.spent

    def plan(self, done: int, cost: EpochCost, pixel_share: Callable[[int, int], float],
             validated: Callable[[int, int], bool]) -> int:
        """Epochs the run has in all: the most that fit, at least `done` (epochs trained so far).

        pixel_share(epoch, epochs) -> that epoch's pixels over imgsz's under a plan of `epochs`;
        validated(epoch, epochs) -> whether that epoch is validated under that plan.
        Reserved: the pending validation of the epoch just trained and the closing one of best.pt.
        """
        if self.spent:
            return done
        left = self.remaining_s() - 2 * cost.val_s

        def fits(epochs: int) -> bool:
            need = sum(cost.train_full_s * pixel_share(e, epochs) + (cost.val_s if validated(e, epochs) else 0.0)
                       for e in range(done, epochs))
            return need <= left

        if not fits(done + 1):
            return done
        low, high = done + 1, done + 2  # fits(low); grow high until it does not fit, then bisect
        while high <= MAX_EPOCHS and fits(high):
            low, high = high, min(2 * high, MAX_EPOCHS + 1)
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if fits(middle) else (low, middle)
        return low
