"""Resume policy: which checkpoint a run continues from, with which config, and what it restores.

A resumed run keeps its identity (data, model, input size, batch, seed, ...): the saved config fills
every key the user did not give; a key that would change what the run is refuses with one line;
any other key the user gives (epochs=, patience=, ...) wins and is printed.
"""
from __future__ import annotations

import os
from pathlib import Path

from turboyolo.config import ConfigError, adopt_saved
from turboyolo.distributed.env import elastic_restart_count
from turboyolo.engine.checkpoint import load_checkpoint
from turboyolo.engine.checkpoint_settings import absolute_paths
from turboyolo.engine.run_dir import lock_holder, newest_last_checkpoint

# Keys the current process decides (where and how it runs, where the run folder is): never taken from the checkpoint.
ENVIRONMENT_KEYS = frozenset({"verbose", "workers", "device", "nproc", "threads", "dist_backend", "dist_timeout",
                              "cache_dir", "resume", "project", "name", "exist_ok"})
# Keys that make a run what it is: a resume cannot change them (start a new run, or fine-tune with model=last.pt).
IDENTITY_KEYS = ("data", "model", "imgsz", "batch", "nbs", "seed", "optimizer", "sync", "engine", "accumulate",
                 "fraction", "ema", "deterministic")

ELASTIC_MARK = "elastic_run_id"  # file in a run folder: the torchrun run id that owns it


class RunFinished(Exception):
    """The checkpoint to resume belongs to a run that has already finished (message says how to go on)."""


def elastic_run_dir(project: str) -> Path | None:
    """The run folder an earlier incarnation of this torchrun job (same TORCHELASTIC_RUN_ID) created."""
    run_id = os.environ.get("TORCHELASTIC_RUN_ID")
    if not run_id:
        return None
    for mark in Path(project).glob(f"*/{ELASTIC_MARK}"):
        if mark.read_text().strip() == run_id:
            return mark.parent
    return None


def resolve_resume_path(cfg) -> Path | None:
    """The last.pt this run continues from, or None for a fresh run."""
    fresh = cfg.resume is None or str(cfg.resume).lower() in ("false", "0", "no", "")
    if fresh and elastic_restart_count() > 0:
        # torchrun restarted the group after a failure: continue from the last checkpoint, if any
        run_dir = elastic_run_dir(cfg.project)
        last = run_dir / "weights" / "last.pt" if run_dir else None
        return last if last is not None and last.is_file() else None
    if fresh:
        return None
    if str(cfg.resume).lower() in ("true", "1", "yes"):
        found = newest_last_checkpoint(cfg.project)
        if found is None:
            raise FileNotFoundError(f"resume=True but no */weights/last.pt under {cfg.project}")
        path = found
    else:
        path = Path(str(cfg.resume))
        if path.is_dir():  # a run folder is as good as its last.pt
            path = path / "weights" / "last.pt"
        if not path.is_file():
            raise FileNotFoundError(f"resume={cfg.resume}: no such checkpoint (expected a run's weights/last.pt)")
    holder = lock_holder(path.parent.parent)
    if holder is not None and holder != os.getpid():
        raise ConfigError(f"resume: {path.parent.parent} is being trained right now by process {holder}; "
                          "wait for it to finish (or stop it) before resuming")
    return path


def load_resume_checkpoint(cfg, path: Path, verbose: bool) -> dict:
    """Load `path` and make `cfg` the saved run's config plus the user's allowed overrides (printed)."""
    ckpt = load_checkpoint(path)
    state = ckpt.get("train_state")
    if state is None:
        raise ConfigError(f"resume={path}: this checkpoint has no training state (best.pt is stripped for inference); "
                          "resume from the run's last.pt, or fine-tune from it with model=")
    # paths compared as absolute: the saved ones are (older checkpoints: made so here), the user's too
    saved = absolute_paths(ckpt["args"])
    cfg.update(absolute_paths({key: cfg[key] for key in cfg.given}))
    keys = [k for k in saved if k not in ENVIRONMENT_KEYS]
    overridden = adopt_saved(cfg, saved, keys, origin=f"{path} (saved config)")
    changed_identity = [k for k in IDENTITY_KEYS if k in overridden]
    if changed_identity:
        k = changed_identity[0]
        raise ConfigError(f"resume keeps the run's {k}={overridden[k][0]!r} (you gave {overridden[k][1]!r}); "
                          f"to train with another {k}, start a new run with model={path}")
    if verbose and overridden:
        print("resume: " + ", ".join(f"{k}={user!r} (was {was!r})" for k, (was, user) in overridden.items()))
    cfg.mark_given(k for k in ckpt.get("args_given", ()) if k in keys)  # what the original command set stays set
    cfg.resume = str(path)
    done_epochs, mid_epoch = int(ckpt["epoch"]), int(state["samples_in_epoch"]) > 0
    stopped = state.get("stop_reason", "")
    if stopped:
        raise RunFinished(f"run {path.parent.parent} stopped early ({stopped}) after {done_epochs} epochs; "
                          f"start a new run from its weights with model={path}")
    # a time= run's epochs are its last plan; a new time= given with resume plans again from what it leaves
    new_budget = cfg.time > 0 and "time" in overridden
    if done_epochs >= cfg.epochs and not mid_epoch and not new_budget:
        hint = "a larger time=" if cfg.time > 0 else "a larger epochs="
        raise RunFinished(f"run {path.parent.parent} is finished ({done_epochs}/{cfg.epochs} epochs); "
                          f"to train it further pass {hint} with resume")
    return ckpt


def restore_train_state(s, ckpt: dict) -> None:
    """Put the checkpoint's training state into a freshly built TrainingSetup `s`."""
    from turboyolo.engine.checkpoint import restore_rng

    saved = ckpt["train_state"]
    if saved["optimizer"] is not None:
        s.strategy.load_optimizer_state(s.optimizer, saved["optimizer"])
    if s.ema is not None and saved["ema"] is not None:
        s.ema.load_state_dict(saved["ema"])
    if s.scaler is not None and saved["scaler"]:
        s.scaler.load_state_dict(saved["scaler"])
    restore_rng(saved["rng"])
    state = s.state
    state.load_state_dict(saved, epoch=ckpt["epoch"], step=ckpt["step"])
    if "history" not in saved and s.run_dir is not None:  # saved before the history travelled in last.pt
        state.history = [row for row in s.run_dir.read_results() if int(row["epoch"]) <= state.epoch]
    if s.run_dir is not None:
        s.run_dir.write_results(state.history)  # rows a kill kept out of results.csv come back from last.pt
    if s.env.is_main and s.cfg.verbose:
        print(f"resuming {s.cfg.resume}: epoch {state.epoch + 1}/{s.cfg.epochs}, "
              f"{state.samples_in_epoch} samples in, step {state.step}")
