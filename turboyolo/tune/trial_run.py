"""One tuning trial: a normal training run that reports to Optuna every validated epoch.

The trial talks to the study through its storage, not through an in-memory object, so the same
reporter works in this process and in every rank of a spawned multi-process trial (`nproc=`):
only rank 0 reports and asks whether to prune; its answer (and the time-budget check) reaches the
other ranks by broadcast, so all ranks stop after the same step.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

# A multi-process trial checks the deadline every this many optimizer steps (each check is a collective).
DEADLINE_CHECK_STEPS = 10

STOPPED = "stopped"  # the trial's user attribute that says why it ended early
PRUNED = "pruned by the tuner"
OUT_OF_TIME = "the tuning time budget ran out"


def fitness(row: dict) -> float | None:
    """The trainer's own fitness of a validated epoch (what best.pt is chosen by); None when not validated."""
    if row.get("mAP50-95") in (None, ""):  # an epoch without validation (results.csv leaves it empty)
        return None
    return 0.1 * float(row.get("mAP50") or 0) + 0.9 * float(row.get("mAP50-95") or 0)


@dataclass
class TrialReporter:
    """Trainer callbacks (picklable, for spawned ranks) of one trial: report + prune at each epoch's end,
    stop at the deadline (time.time() seconds; None: no budget)."""

    storage: str
    study_name: str
    trial_id: int
    deadline: float | None
    pruner: str  # the pruner's settings live in the process, not the storage: each rank rebuilds them
    verbose: bool  # one line per validated epoch (the trial's own training output is off)

    def _stop(self, trainer, decide) -> None:
        s = trainer.setup
        reason = decide() if s.env.is_main else None
        if reason:  # the tuning process reads why its trial ended from the study
            self._trial(trainer.cfg.epochs).set_user_attr(STOPPED, reason)
        if s.env.world_size > 1:
            reason = s.strategy.broadcast_object(reason)
        if reason and not trainer.stop_reason:
            trainer.stop_reason = reason

    def on_epoch_end(self, trainer) -> None:
        self._stop(trainer, lambda: self._report(trainer))

    def on_optimizer_step(self, trainer) -> None:
        if self.deadline is None:
            return
        if trainer.setup.env.world_size > 1 and trainer.state.step % DEADLINE_CHECK_STEPS:
            return
        self._stop(trainer, lambda: OUT_OF_TIME if time.time() >= self.deadline else None)

    def _report(self, trainer) -> str | None:
        value = fitness(trainer.history[-1]) if trainer.history else None
        if value is None:
            return None
        trial = self._trial(trainer.cfg.epochs)
        epoch = len(trainer.history)
        trial.report(value, step=epoch)
        pruned = epoch < trainer.cfg.epochs and trial.should_prune()
        if self.verbose:
            print(f"  trial {trial.number} epoch {epoch}/{trainer.cfg.epochs}: fitness {value:.4f}"
                  + ("  (pruned: behind earlier trials at this epoch)" if pruned else ""), flush=True)
        return f"{PRUNED} at epoch {epoch}" if pruned else None

    def _trial(self, epochs: int):
        import optuna

        from turboyolo.tune.study import make_pruner

        study = optuna.load_study(study_name=self.study_name, storage=open_storage(self.storage),
                                  pruner=make_pruner(self.pruner, epochs))
        return optuna.trial.Trial(study, self.trial_id)

    def callbacks(self) -> dict:
        return {"on_epoch_end": [self.on_epoch_end], "on_optimizer_step": [self.on_optimizer_step]}


def open_storage(storage: str):
    """An Optuna storage from its URL: `sqlite:///FILE.db` (or any RDB URL), else a journal file path
    (append-only, file-locked: safe for several processes, and on a shared file system for several machines)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    if "://" in storage:
        return optuna.storages.RDBStorage(storage, heartbeat_interval=None)
    Path(storage).parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(storage))


@dataclass
class TrialOutcome:
    value: float | None  # best fitness over its validated epochs
    epochs: int
    stop_reason: str
    seconds: float


def run_trial(cfg, reporter: TrialReporter) -> TrialOutcome:
    """Train `cfg` (one process, or spawned ranks when cfg asks for several) with the reporter's callbacks."""
    from turboyolo.distributed.launch import requested_world_size, should_spawn, spawn_training
    from turboyolo.engine.run_dir import RunDir
    from turboyolo.engine.trainer import Trainer

    started = time.perf_counter()
    if should_spawn(cfg):
        spawn_training(cfg, requested_world_size(cfg), callbacks=reporter.callbacks())
    else:
        Trainer(cfg, reporter.callbacks()).fit()
    run_dir = Path(cfg.project) / cfg.name
    rows = RunDir(run_dir).read_results() if run_dir.is_dir() else []
    values = [v for v in map(fitness, rows) if v is not None]
    stopped = open_storage(reporter.storage).get_trial(reporter.trial_id).user_attrs.get(STOPPED, "")
    return TrialOutcome(max(values) if values else None, len(rows), stopped, time.perf_counter() - started)
