"""`turboyolo train ...`: one process, or spawn one per device/CPU slot, or join a torchrun group."""
from __future__ import annotations

import os


def requested_processes(cfg) -> int:
    """Processes to spawn here: len(device list) for `device=0,1,..`, else `nproc` (CPU)."""
    device = str(cfg.device or "")
    if "," in device:
        return len([d for d in device.split(",") if d.strip()])
    nproc = cfg.nproc
    if isinstance(nproc, list):
        raise ValueError("train takes one nproc value (lists are for `bench scaling`)")
    return int(nproc)


def run(cfg, positional=None) -> int:
    from turboyolo.engine.trainer import Trainer

    launched = "RANK" in os.environ or "SLURM_PROCID" in os.environ and "SLURM_NTASKS" in os.environ
    n = requested_processes(cfg)
    if not launched and n > 1:
        from turboyolo.dist.launch import spawn_training

        spawn_training(cfg, n)
        return 0
    summary = Trainer(cfg).fit()
    return 1 if summary.get("stop_reason", "").startswith("stopped") else 0
