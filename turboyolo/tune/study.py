"""The Optuna study a `turboyolo tune` process joins: created on first use, continued on every rerun.

Several processes (on one machine, or on several sharing the storage) that name the same storage
and study work on one study; Optuna hands each a distinct trial. A trial whose process died stays
RUNNING in the storage; it is recognised by its folder's trial lock (a POSIX record lock the tuning
process holds while the trial runs, freed by the kernel when that process dies) and marked failed,
and its parameters are queued again so the study does not lose the point.
"""
from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from turboyolo.tune.trial_run import open_storage

TRIAL_LOCK = ".tune-trial.lock"
# A trial younger than this may not have taken its lock yet (it is taken right after the trial is asked for).
STALE_AFTER_S = 60

RUN_DIR_ATTR = "run_dir"
DIED_ATTR = "died"  # a failed trial whose process died: its parameters were queued again, it does not count
BASELINE_ATTR = "baseline"  # the trial of the configured values (the study's first)


def make_sampler(name: str, seed: int):
    import optuna

    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # a few random trials first; multivariate TPE models the gains' interplay (lr0 with warmup, box with cls)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=5, multivariate=True)


def make_pruner(name: str, epochs: int):
    import optuna

    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs)
    # a trial below the median of earlier trials at the same epoch stops; the first trials and the first half of
    # the epochs (at least one) are spared, as a from-scratch run's fitness rises late (BCCD, 10-epoch trials:
    # 0.003-0.016 over epochs 1-5 whatever the config, 0.15 at epoch 10): epochs report as steps 1..E, and
    # Optuna prunes from step n_warmup_steps
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=max(1, epochs // 2) + 1)


def open_study(storage: str, name: str, sampler: str, pruner: str, epochs: int, seed: int):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own lines say what happens
    study = optuna.create_study(study_name=name, storage=open_storage(storage), direction="maximize",
                                sampler=make_sampler(sampler, seed), pruner=make_pruner(pruner, epochs),
                                load_if_exists=True)
    if study.trials:  # a rerun or a second process: a sampler seeded as the first one would repeat its points
        study.sampler = make_sampler(sampler, seed + len(study.trials))
    return study


class TrialLock:
    """Held by the tuning process for as long as its trial runs (the trial folder is created for it)."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(folder / TRIAL_LOCK, os.O_RDWR | os.O_CREAT, 0o666)
        fcntl.lockf(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def release(self) -> None:
        os.close(self.fd)


def trial_alive(folder: Path) -> bool:
    """Whether a live process holds `folder`'s trial lock."""
    lock = folder / TRIAL_LOCK
    if not lock.is_file():
        return False
    with lock.open("r+") as fh:
        try:
            fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.lockf(fh, fcntl.LOCK_UN)
    return False


def recover_dead_trials(study) -> list[int]:
    """Mark RUNNING trials whose training process is gone as failed and queue their parameters again;
    returns their numbers."""
    import optuna
    from optuna.trial import TrialState

    recovered = []
    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        run_dir = trial.user_attrs.get(RUN_DIR_ATTR)
        started = trial.datetime_start.timestamp() if trial.datetime_start else now
        locked_once = bool(run_dir) and (Path(run_dir) / TRIAL_LOCK).is_file()
        if (run_dir and trial_alive(Path(run_dir))) or (not locked_once and now - started < STALE_AFTER_S):
            continue
        optuna.trial.Trial(study, trial._trial_id).set_user_attr(DIED_ATTR, True)
        study.tell(trial.number, state=TrialState.FAIL)
        study.enqueue_trial(trial.params, skip_if_exists=False)
        recovered.append(trial.number)
    return recovered


def counted_trials(study) -> int:
    """Trials that count toward trials=N: every trial but those whose process died (they run again)."""
    return sum(1 for t in study.get_trials(deepcopy=False) if not t.user_attrs.get(DIED_ATTR)
               and t.state.name != "WAITING")


def enqueue_baseline(study, values: dict) -> bool:
    """Queue the configured values as the first trial of a new study; returns whether it was queued.
    Two processes starting one study together queue it once (Optuna skips a queued duplicate)."""
    if study.trials:
        return False
    study.enqueue_trial(values, user_attrs={BASELINE_ATTR: True}, skip_if_exists=True)
    return True


def baseline_trial(study):
    """The study's completed baseline trial, or None."""
    return next((t for t in study.get_trials(deepcopy=False) if t.user_attrs.get(BASELINE_ATTR)
                 and t.state.name == "COMPLETE"), None)
