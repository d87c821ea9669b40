"""Where a training step's time goes: data wait, host-to-device copy, forward, backward, optimizer.

The trainer marks phase boundaries::

    timer.start_step()
    batch = next(loader);          timer.lap("data")
    batch = to_device(batch);      timer.lap("h2d")
    loss = model(...);             timer.lap("forward")
    loss.backward();               timer.lap("backward")
    optimizer.step();              timer.lap("optimizer")
    timer.end_step(images=len(batch))   # the rest since the last lap -> "other"

Each boundary is a *mark*: a host clock reading on CPU, a recorded ``torch.cuda.Event`` on CUDA.
CUDA marks are never waited for in the hot path; they are resolved lazily, oldest first, once
``event.query()`` says the GPU has passed them, and all at once when ``summary()`` is asked for at
the end of an epoch. On CUDA a phase's time is therefore *GPU stream time*: "data" is the time the
GPU sat idle waiting for the next batch (data loading hidden behind the previous step's GPU work
costs nothing), which is the figure that matters for speed.

The time between ``end_step`` and the next ``start_step`` (progress bar, logging) is counted as
"other", so ``wall_s`` is the real elapsed time from the first ``start_step`` after ``reset()`` to
the last resolved mark.
"""
from __future__ import annotations

import statistics
import time
from collections import deque
from typing import Callable

import torch

# Phases the trainer reports; always present in summaries so results.csv has stable columns.
STANDARD_PHASES = ("data", "h2d", "forward", "backward", "optimizer", "other")
# Phases counted as communication that the computation did not hide (e.g. from a DDP comm hook).
COMM_PHASES = ("comm", "exposed_comm", "allreduce")


class HostClockMarks:
    """Marks are host clock readings (seconds); always resolved. `clock` is injectable for tests."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter):
        self.clock = clock

    def mark(self):
        return self.clock()

    def ready(self, mark) -> bool:
        return True

    def wait(self, mark) -> None:
        pass

    def elapsed_s(self, earlier, later) -> float:
        return later - earlier

    def release(self, mark) -> None:
        pass


class CudaEventMarks:
    """Marks are CUDA events recorded on the current stream; recycled once resolved."""

    def __init__(self, device: torch.device):
        self.device = device
        self._free: list[torch.cuda.Event] = []

    def mark(self):
        event = self._free.pop() if self._free else torch.cuda.Event(enable_timing=True)
        event.record(torch.cuda.current_stream(self.device))
        return event

    def ready(self, event) -> bool:
        return event.query()  # non-blocking

    def wait(self, event) -> None:
        event.synchronize()

    def elapsed_s(self, earlier, later) -> float:
        return earlier.elapsed_time(later) / 1000.0  # elapsed_time is in milliseconds

    def release(self, event) -> None:
        self._free.append(event)


class StepTimer:
    """Per-phase time accumulator for training steps, without host syncs in the hot path.

    device: where the step runs (CUDA -> events, anything else -> host clock).
    enabled: False makes every call a no-op except step/image counting and a host-clock wall time.
    marks: a mark source (HostClockMarks / CudaEventMarks / a fake in tests); default from device.
    """

    # Beyond this many unresolved marks, wait for the oldest (bounds memory if query() lags).
    MAX_PENDING = 4096

    def __init__(self, device: torch.device | str = "cpu", enabled: bool = True, marks=None,
                 clock: Callable[[], float] = time.perf_counter):
        self.device = torch.device(device)
        self.enabled = enabled
        self.clock = clock
        if marks is None:
            marks = CudaEventMarks(self.device) if self.device.type == "cuda" and enabled else HostClockMarks(clock)
        self.marks = marks
        self.reset()

    # --- hot path ------------------------------------------------------------------------
    def start_step(self) -> None:
        """Top of a step. The gap since the previous end_step is attributed to "other"."""
        if not self.enabled:
            self._host_start = self._host_start if self._host_start is not None else self.clock()
            return
        self._resolve(wait=False)
        # First step after reset: nothing to attribute yet (phase None = no interval).
        self._push("other" if self._pending or self._last_mark is not None else None, kind="start")

    def lap(self, phase: str) -> None:
        """Attribute the time since the previous start_step/lap to `phase`."""
        if self.enabled:
            self._push(phase, kind="lap")

    def end_step(self, images: int) -> None:
        """Close the step: time since the last lap -> "other"; `images` processed in this step."""
        if not self.enabled:
            self._steps += 1
            self._images += int(images)
            self._host_end = self.clock()
            return
        self._push("other", kind="end", images=int(images))

    def add_seconds(self, phase: str, seconds: float, taken_from: str | None = None) -> None:
        """Add externally measured time to `phase` (e.g. exposed allreduce from a comm hook).

        By default the seconds are extra to wall time's phases (shares may sum above 1). When the
        time was already inside a measured phase (exposed communication happens during
        "backward"), pass `taken_from="backward"` to move it from there instead.
        """
        self._external[phase] = self._external.get(phase, 0.0) + float(seconds)
        if taken_from is not None:
            self._external[taken_from] = self._external.get(taken_from, 0.0) - float(seconds)

    # --- bookkeeping ---------------------------------------------------------------------
    def _push(self, phase: str | None, kind: str, images: int = 0) -> None:
        self._pending.append((phase, self.marks.mark(), kind, images))
        if len(self._pending) > self.MAX_PENDING:
            self.marks.wait(self._pending[0][1])
            self._resolve(wait=False)

    def _resolve(self, wait: bool) -> None:
        """Fold completed marks (oldest first) into the accumulators; wait=True waits for all."""
        while self._pending:
            phase, mark, kind, images = self._pending[0]
            if not self.marks.ready(mark):
                if not wait:
                    return
                self.marks.wait(mark)
            self._pending.popleft()
            if phase is not None and self._last_mark is not None:
                seconds = self.marks.elapsed_s(self._last_mark, mark)
                self._phase_s[phase] = self._phase_s.get(phase, 0.0) + seconds
                self._wall_s += seconds
                self._current_step_s += seconds
            if self._last_mark is not None:
                self.marks.release(self._last_mark)
            self._last_mark = mark
            if kind == "end":
                self._steps += 1
                self._images += images
                self._step_s.append(self._current_step_s)
            if kind in ("start", "end"):  # the gap between steps is not part of a step's duration
                self._current_step_s = 0.0

    def reset(self) -> None:
        """Start a new accumulation window (a new epoch). Unresolved marks are dropped."""
        self._pending: deque = deque()
        self._last_mark = None
        self._phase_s: dict[str, float] = {}
        self._external: dict[str, float] = {}
        self._wall_s = 0.0
        self._current_step_s = 0.0
        self._step_s: list[float] = []
        self._steps = 0
        self._images = 0
        self._host_start: float | None = None
        self._host_end: float | None = None

    # --- results -------------------------------------------------------------------------
    def summary(self, wait: bool = True) -> dict:
        """Totals since reset(); wait=False reports only what the device has finished (no sync).

        Keys: steps, images, wall_s, images_per_s, step_s (mean), step_s_median, <phase>_s and
        <phase>_share for every phase (standard ones always), data_wait_share, exposed_comm_share.
        """
        if self.enabled:
            self._resolve(wait=wait)
            wall = self._wall_s
        else:
            wall = (self._host_end - self._host_start) if self._host_start is not None and self._host_end else 0.0
        phases = {name: 0.0 for name in STANDARD_PHASES}
        for name, seconds in list(self._phase_s.items()) + list(self._external.items()):
            phases[name] = phases.get(name, 0.0) + seconds
        out: dict[str, float | int] = {
            "steps": self._steps,
            "images": self._images,
            "wall_s": wall,
            "images_per_s": self._images / wall if wall > 0 else 0.0,
            "step_s": wall / self._steps if self._steps else 0.0,
            "step_s_median": statistics.median(self._step_s) if self._step_s else 0.0,
        }
        for name, seconds in phases.items():
            out[f"{name}_s"] = seconds
        for name, seconds in phases.items():
            out[f"{name}_share"] = seconds / wall if wall > 0 else 0.0
        out["data_wait_share"] = out["data_share"]
        out["exposed_comm_share"] = sum(phases.get(p, 0.0) for p in COMM_PHASES) / wall if wall > 0 else 0.0
        return out
