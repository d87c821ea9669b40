"""`turboyolo tune data=... model=n trials=20 [time=HOURS] [epochs=E] [space=default|FILE.yaml]`.

Each trial is a normal training run (the same trainer, run folder layout and keys) under
runs/tune/NAME/trial_K, with the sampled keys on top of the user's; it reports its fitness (the
trainer's: 0.1 mAP50 + 0.9 mAP50-95) after every validated epoch and stops early when the pruner
says so. The study lives in a storage (default: runs/tune/NAME/study.journal): rerunning the same
command continues it, and several processes pointed at one storage share it (see README).
"""
from __future__ import annotations

import time
from pathlib import Path

from turboyolo.config import ConfigError, build_config

# Keys of the tune mode itself: they shape the study, not a trial's training.
TUNE_KEYS = ("trials", "space", "storage", "study", "sampler", "pruner", "time", "project", "name", "exist_ok",
             "resume", "cfg")


def trial_config(cfg, params: dict, folder: Path):
    """A trial's training config: the user's training keys, the sampled ones, the trial's folder."""
    user = {k: cfg[k] for k in cfg.given if k not in TUNE_KEYS}
    # the tuner prints one line per trial epoch instead of each training's bars and tables
    return build_config({**user, **params, "project": str(folder.parent), "name": folder.name, "exist_ok": True,
                         "verbose": False})


def trainer_picked(cfg, params, data) -> dict:
    """Tuned keys whose configured value the trainer picks itself: optimizer=auto chooses lr0 by run length
    and class count unless lr0 is given (a trial's sampled lr0 counts as given)."""
    if cfg.optimizer != "auto" or "lr0" in cfg.given or "lr0" not in {p.key for p in params}:
        return {}
    from turboyolo.engine.optim import planned_optimizer

    return {"lr0": planned_optimizer(cfg, len(data.split("train")), len(data.names))[1]}


def load_data_once(cfg):
    """Read the dataset before any trial: a wrong path fails at once, and its problem lines (a skipped
    box, ...) print here once instead of again in every trial."""
    import warnings

    from turboyolo.data.formats import load_dataset
    from turboyolo.data.records import DatasetWarning

    data = load_dataset(cfg.data, cfg.cache_dir, verbose=False, difficult=cfg.difficult)
    warnings.simplefilter("ignore", DatasetWarning)  # inside run()'s catch_warnings
    return data


def estimate_trial_s(study) -> float | None:
    """How long a whole trial takes: the longest completed one (None before the first completes)."""
    from optuna.trial import TrialState

    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.datetime_start and t.datetime_complete]
    return max(((t.datetime_complete - t.datetime_start).total_seconds() for t in done), default=None)


def run(cfg, positional=None) -> int:
    import warnings

    from turboyolo.errors import require_extra

    require_extra("optuna", "tune", "turboyolo tune")
    if cfg.resume:
        raise ConfigError("tune continues a study by rerunning the same command; resume= is for train")
    with warnings.catch_warnings():  # the silencing of dataset problem lines ends with the study
        return _study(cfg, load_data_once(cfg))


def _study(cfg, data) -> int:
    from optuna.trial import TrialState

    from turboyolo.tune.report import write_report
    from turboyolo.tune.space import configured_values, load_space, suggest
    from turboyolo.tune.study import (RUN_DIR_ATTR, TrialLock, baseline_trial, counted_trials, enqueue_baseline,
                                      open_study, recover_dead_trials)
    from turboyolo.tune.trial_run import PRUNED, TrialReporter, run_trial

    started = time.time()
    deadline = started + cfg.time * 3600 if cfg.time else None
    folder = Path(cfg.project if "project" in cfg.given else "runs/tune") / (cfg.name or "tune")
    storage = cfg.storage or str(folder / "study.journal")
    study_name = cfg.study or folder.name
    params = load_space(cfg.space)
    fixed = [p.key for p in params if p.key in cfg.given]
    params = [p for p in params if p.key not in cfg.given]
    if not params:
        raise ConfigError(f"tune: every key of space={cfg.space} is fixed on the command line; nothing to tune")
    study = open_study(storage, study_name, cfg.sampler, cfg.pruner, cfg.epochs, cfg.seed)
    if cfg.verbose:
        before = len(study.trials)
        print(f"turboyolo tune: study {study_name!r} in {storage}"
              + (f", continuing after {before} trial(s)" if before else "")
              + f"; {cfg.trials} trials of {cfg.epochs} epochs"
              + (f", {cfg.time:g} h budget" if deadline else "") + f", sampler {cfg.sampler}, pruner {cfg.pruner}")
        print("tuning " + ", ".join(p.describe() for p in params)
              + (f"; fixed by you: {', '.join(fixed)}" if fixed else ""))
    if not study.trials and enqueue_baseline(study, configured_values(params, cfg, trainer_picked(cfg, params, data))) \
            and cfg.verbose:
        print("trial 0 trains your configured values (the baseline the study is measured against)")
    recovered = recover_dead_trials(study)
    if recovered and cfg.verbose:
        print(f"trial(s) {recovered} died with their process: marked failed, their parameters queued again")

    ran = 0
    while counted_trials(study) < cfg.trials:
        estimate = estimate_trial_s(study)
        if deadline is not None and estimate is not None and time.time() + estimate > deadline:
            if cfg.verbose:
                print(f"time budget: {(deadline - time.time()) / 60:.1f} min left, a trial takes "
                      f"{estimate / 60:.1f} min; no new trial")
            break
        if deadline is not None and time.time() >= deadline:
            break
        trial = study.ask()
        values = suggest(trial, params)
        trial_dir = folder / f"trial_{trial.number}"
        lock = TrialLock(trial_dir)
        trial.set_user_attr(RUN_DIR_ATTR, str(trial_dir.absolute()))
        try:
            if cfg.verbose:
                print(f"\ntrial {trial.number}: " + ", ".join(f"{k}={_short(v)}" for k, v in values.items()))
            # the storage's id of the trial (Optuna's integrations read it the same way): ranks reopen it by id
            reporter = TrialReporter(storage, study_name, trial._trial_id, deadline, cfg.pruner, cfg.verbose)
            try:
                outcome = run_trial(trial_config(cfg, values, trial_dir), reporter)
            except ConfigError:
                study.tell(trial, state=TrialState.FAIL)
                raise  # the user's keys are wrong for every trial: stop here
            except Exception as err:  # one trial's failure (e.g. out of memory at a sampled batch) is the study's data
                study.tell(trial, state=TrialState.FAIL)
                print(f"trial {trial.number} failed: {type(err).__name__}: {err}")
                ran += 1
                continue
            if outcome.value is None:
                study.tell(trial, state=TrialState.FAIL)
                state = "failed (no validated epoch)"
            elif outcome.stop_reason:  # pruned, or cut by the budget: its value is not a full run's
                study.tell(trial, state=TrialState.PRUNED)
                state = outcome.stop_reason if outcome.stop_reason.startswith(PRUNED) else f"stopped: {outcome.stop_reason}"
            else:
                study.tell(trial, outcome.value)
                state = "complete"
            if cfg.verbose:
                value = "" if outcome.value is None else f"fitness {outcome.value:.4f}, "
                print(f"trial {trial.number}: {state}; {value}{outcome.epochs} epochs in {outcome.seconds:.0f} s")
        finally:
            lock.release()
        ran += 1
    best_yaml = write_report(study, folder, cfg, {p.key for p in params})
    if cfg.verbose:
        finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if finished:
            best = study.best_trial
            print(f"\nbest: trial {best.number}, fitness {best.value:.4f}: "
                  + ", ".join(f"{k}={_short(v)}" for k, v in best.params.items()))
            baseline = baseline_trial(study)
            if baseline is not None:
                print(f"baseline (your configured values, trial {baseline.number}): fitness {baseline.value:.4f}"
                      + (" - tuning found nothing better" if baseline.number == best.number
                         else f"; best is {best.value - baseline.value:+.4f}"))
            print(f"wrote {best_yaml} (train with: turboyolo train cfg={best_yaml}), trials.csv and plots in {folder}")
        else:
            print(f"no trial completed yet; trials.csv in {folder}")
        print(f"this process ran {ran} trial(s) in {(time.time() - started) / 60:.1f} min")
    return 0


def _short(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)

