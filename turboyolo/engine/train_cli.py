"""`turboyolo train ...`: one process, or spawn one per device/CPU slot, or join a torchrun group."""
from __future__ import annotations

from pathlib import Path


def run(cfg, positional=None) -> int:
    summary = train(cfg)
    return 1 if summary.get("stop_reason", "").startswith("stopped") else 0


def train(cfg, callbacks: dict | None = None) -> dict:
    """Train as `turboyolo train` does; returns the trainer's summary, with "weights": the checkpoint to use
    afterwards (best.pt, or last.pt when nothing was validated). callbacks: as Trainer takes them."""
    from turboyolo.distributed.launch import requested_world_size, should_spawn, spawn_training
    from turboyolo.engine.run_dir import newest_last_checkpoint
    from turboyolo.engine.trainer import Trainer

    if isinstance(cfg.nproc, list):
        raise ValueError("train takes one nproc value (comma lists are for `bench scaling`)")
    if should_spawn(cfg):
        spawn_training(cfg, requested_world_size(cfg), callbacks=callbacks)
        # the summary stays in the spawned rank 0: the run is the project's newest one
        last = newest_last_checkpoint(cfg.project)
        summary = {"run_dir": str(last.parent.parent)} if last else {}
    else:
        summary = Trainer(cfg, callbacks).fit()
    if summary.get("run_dir"):
        weights = Path(summary["run_dir"]) / "weights"
        best = weights / "best.pt"
        summary["weights"] = str(best if best.is_file() else weights / "last.pt")
    return summary
