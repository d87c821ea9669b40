"""`turboyolo train ...`: one process, or spawn one per device/CPU slot, or join a torchrun group."""
from __future__ import annotations


def run(cfg, positional=None) -> int:
    from turboyolo.distributed.launch import requested_world_size, should_spawn, spawn_training
    from turboyolo.engine.trainer import Trainer

    if isinstance(cfg.nproc, list):
        raise ValueError("train takes one nproc value (comma lists are for `bench scaling`)")
    if should_spawn(cfg):
        spawn_training(cfg, requested_world_size(cfg))
        return 0
    summary = Trainer(cfg).fit()
    return 1 if summary.get("stop_reason", "").startswith("stopped") else 0
