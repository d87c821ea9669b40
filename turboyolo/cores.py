"""How many CPU cores this process may use: the one rule behind torch threads and loader workers.

`os.cpu_count()` counts the machine, not what this process is allowed: under a Slurm cpuset,
`taskset` or a container's CPU quota it oversubscribes (every rank spinning as many threads as the
machine has cores). The usable cores are the CPU affinity, lowered to a container's CPU quota
(cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us`: how Docker `--cpus` and Kubernetes CPU limits are
enforced), and the processes of one machine share them evenly.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

# Where a container sees its own cgroup (cgroup namespaces make it the root of this mount).
CGROUP_ROOT = Path("/sys/fs/cgroup")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cgroup_cpu_quota() -> float | None:
    """CPUs a container's quota allows (2.5 = 250 ms of CPU per 100 ms), None without a quota."""
    quota, period = None, None
    v2 = _read(CGROUP_ROOT / "cpu.max")  # "max 100000" or "250000 100000"
    if v2:
        words = v2.split()
        if len(words) == 2 and words[0] != "max":
            quota, period = words
    else:
        quota = _read(CGROUP_ROOT / "cpu" / "cpu.cfs_quota_us")  # -1: no quota
        period = _read(CGROUP_ROOT / "cpu" / "cpu.cfs_period_us")
    try:
        quota_us, period_us = int(quota), int(period)
    except (TypeError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by a container CPU quota (rounded up)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = cgroup_cpu_quota()
    if quota is not None:
        cores = min(cores, math.ceil(quota))
    return max(1, cores)


def cores_per_process(local_processes: int) -> int:
    """This process's even share of the usable cores, when `local_processes` run on this machine."""
    return max(1, usable_cores() // max(int(local_processes), 1))


def threads_per_process(requested: int, local_processes: int) -> int:
    """torch intra-op threads: `requested` (cfg.threads) when > 0, else this process's share of the cores."""
    return int(requested) if int(requested or 0) > 0 else cores_per_process(local_processes)


def workers_per_process(requested: int, local_processes: int) -> int:
    """DataLoader workers: `requested` (cfg.workers) capped at this process's share of the cores minus one.

    One core is left to the process itself. Measured on a 2-core machine with the model on both cores
    (benchmarks/loader.py, step table): 0 workers 76 images/s, 1 worker 70, 2 workers 9 - workers
    beyond the spare cores stall torch's spinning intra-op threads.
    """
    return max(0, min(int(requested), cores_per_process(local_processes) - 1))
