"""Hang detection: name the rank and the collective a run is stuck in, instead of waiting silently.

Every rank runs a heartbeat thread that posts, through the rendezvous store, which collective it is
in (or that it is computing) and since when. When a rank has waited in one collective longer than
``dist_timeout``, it reads every rank's heartbeat, prints who is where (the rank that is *not* in
the collective, or whose heartbeat stopped, is the one that hung), dumps its own Python stacks and
exits, so torchrun (or launch.py) stops the group with that message - or restarts it under
``--max-restarts``. The process-group timeout is set a little longer so this report comes first.
"""
from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import sys
import threading
import time
from typing import Callable

import torch.distributed as dist

EXIT_CODE_HANG = 75  # distinct from crashes (1) and signals, so launch logs show it was a hang
OUTSIDE = "computing (outside any collective)"


class Watchdog:
    """Heartbeats plus a timeout on labelled collectives for one rank.

    store: a store every rank can reach (a dedicated client: the thread must not share a socket
    with the main thread). on_hang(report) replaces the default print-and-exit (tests use it).
    """

    def __init__(self, rank: int, world_size: int, timeout_s: float, store: dist.Store,
                 interval_s: float | None = None, on_hang: Callable[[str], None] | None = None):
        self.rank = rank
        self.world_size = world_size
        self.timeout_s = float(timeout_s)
        self.store = store
        self.interval_s = interval_s or max(0.2, min(5.0, self.timeout_s / 10))
        self.on_hang = on_hang or _report_and_exit
        self.step = 0
        self._phase = OUTSIDE
        self._since = time.time()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.fired = False

    # --- main-thread API -------------------------------------------------------------------
    @contextlib.contextmanager
    def collective(self, name: str):
        """Label the enclosed code as waiting in collective `name` (nested labels keep the outer one)."""
        if self._phase != OUTSIDE:
            yield
            return
        self._phase, self._since = name, time.time()
        try:
            yield
        finally:
            self._phase, self._since = OUTSIDE, time.time()

    def start(self) -> "Watchdog":
        self._post()
        self._thread = threading.Thread(target=self._run, name=f"turboyolo-watchdog-rank{self.rank}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * self.interval_s)
            self._thread = None

    # --- heartbeat thread ------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self._post()
            except Exception:  # the store went away (group shut down): nothing left to watch
                return
            phase, waited = self._phase, time.time() - self._since
            if phase != OUTSIDE and waited > self.timeout_s and not self.fired:
                self.fired = True
                self.on_hang(self.report(phase, waited))
                return

    def _post(self) -> None:
        beat = {"phase": self._phase, "since": self._since, "posted": time.time(), "step": self.step}
        self.store.set(f"heartbeat/{self.rank}", json.dumps(beat))

    def report(self, phase: str, waited: float) -> str:
        """Human-readable state of every rank, from their last heartbeats."""
        now = time.time()
        lines = [f"turboyolo watchdog: rank {self.rank} waited {waited:.1f} s (dist_timeout={self.timeout_s:g} s) "
                 f"in collective '{phase}' at step {self.step}."]
        suspects = []
        for rank in range(self.world_size):
            if rank == self.rank:
                continue
            key = f"heartbeat/{rank}"
            try:
                beat = json.loads(self.store.get(key)) if self.store.check([key]) else None
            except Exception:
                beat = None
            if beat is None:
                lines.append(f"  rank {rank}: never posted a heartbeat (did not start?)")
                suspects.append(rank)
                continue
            silent = now - beat["posted"]
            where = f"in '{beat['phase']}' for {now - beat['since']:.1f} s at step {beat['step']}"
            if silent > max(3 * self.interval_s, 2.0):
                lines.append(f"  rank {rank}: no heartbeat for {silent:.1f} s (process dead or frozen); last {where}")
                suspects.append(rank)
            elif beat["phase"] != phase:
                lines.append(f"  rank {rank}: {where}  <- not in '{phase}'")
                suspects.append(rank)
            else:
                lines.append(f"  rank {rank}: {where}")
        if suspects:
            lines.append(f"  hung rank(s): {', '.join(map(str, suspects))}")
        return "\n".join(lines)


def _report_and_exit(report: str) -> None:
    print(report, file=sys.stderr, flush=True)
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    sys.stderr.flush()
    os._exit(EXIT_CODE_HANG)  # the main thread is blocked in C++; only a hard exit ends the wait


def pg_timeout_s(dist_timeout_s: float) -> float:
    """Process-group timeout: a little longer than the watchdog's, so the watchdog reports first."""
    return dist_timeout_s + max(10.0, 0.1 * dist_timeout_s)
