"""Run one command and watch it from outside: peak memory of its whole process tree, and the moment
each new row of a results.csv appears (so time-to-accuracy is measured the same way for any trainer).

Linux only (reads /proc). Memory is sampled every `poll_s`: RSS summed over the tree (counts pages that
DataLoader workers share with their parent once per process) and PSS (shared pages split between the
processes that map them, so the sum is what the tree really holds).
"""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


@dataclass
class WatchedRun:
    returncode: int
    wall_s: float                      # process start to exit
    peak_rss_bytes: int = 0            # max over samples of the tree's summed RSS
    peak_pss_bytes: int = 0            # max over samples of the tree's summed PSS
    row_seen_s: list[float] = field(default_factory=list)  # seconds from start when results.csv row i appeared


def process_tree(root: int) -> list[int]:
    """`root` and all its live descendants (scans /proc/*/stat for parent ids)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:  # exited between the scan and the read
            continue
        parent = int(stat.rsplit(b")", 1)[1].split()[1])  # the name in (...) may hold spaces
        children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def tree_memory(root: int) -> tuple[int, int]:
    """(summed RSS, summed PSS) in bytes of `root`'s process tree; processes that vanish count 0."""
    rss = pss = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/statm") as fh:
                rss += int(fh.read().split()[1]) * PAGE_BYTES
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                pss += next((int(line.split()[1]) * 1024 for line in fh if line.startswith("Pss:")), 0)
        except (OSError, ValueError, IndexError):
            continue
    return rss, pss


def count_complete_rows(path: Path) -> int:
    """Data rows of a CSV that have every header field (a row being appended is not counted yet)."""
    try:
        with path.open(newline="") as fh:
            rows = list(csv.reader(fh))
    except OSError:
        return 0
    if not rows:
        return 0
    return sum(1 for row in rows[1:] if len(row) == len(rows[0]))


def run_watched(command: list[str], env: dict, results_csv: Path, log_path: Path, poll_s: float = 0.5,
                cwd: Path | None = None) -> WatchedRun:
    """Run `command` (stdout+stderr to `log_path`) until it exits, sampling memory and `results_csv`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log_path.open("w") as log:
        # its own session, so an interrupt here can end the trainer and its workers as one group
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
                                   start_new_session=True)
        run = WatchedRun(returncode=-1, wall_s=0.0)
        try:
            while True:
                exited = process.poll() is not None
                now = time.monotonic() - started
                if not exited:
                    rss, pss = tree_memory(process.pid)
                    run.peak_rss_bytes, run.peak_pss_bytes = max(run.peak_rss_bytes, rss), max(run.peak_pss_bytes, pss)
                rows = count_complete_rows(results_csv)
                run.row_seen_s += [now] * (rows - len(run.row_seen_s))
                if exited:
                    break
                time.sleep(poll_s)
        except BaseException:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait()
            raise
    run.returncode = process.returncode
    run.wall_s = time.monotonic() - started
    return run
