"""`turboyolo tune` end to end on a tiny model: trials run, a lagging one is pruned, best.yaml trains,
a rerun continues the study, the time budget stops on time, a dead trial is recovered."""
from __future__ import annotations

import contextlib
import csv
import io
import time
from pathlib import Path

import pytest

from turboyolo.cli import main
from turboyolo.config import build_config

optuna = pytest.importorskip("optuna")


def tune(words: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["tune", *words]) == 0
    return out.getvalue()


def seed_strong_trials(storage: str, name: str, count: int, epochs: int) -> None:
    """Earlier trials (as if from another machine) that reached fitness 0.9 at every epoch: a new trial
    of a tiny model after 1-2 epochs is far behind them, so the median pruner stops it."""
    from turboyolo.tune.trial_run import open_storage

    study = optuna.create_study(study_name=name, storage=open_storage(storage), direction="maximize",
                                load_if_exists=True)
    for k in range(count):
        study.add_trial(optuna.trial.create_trial(
            params={"lr0": 0.002 + 0.001 * k}, distributions={"lr0": optuna.distributions.FloatDistribution(2e-4, 2e-2, log=True)},
            value=0.9 + 0.01 * k, intermediate_values={e: 0.9 + 0.01 * k for e in range(1, epochs + 1)}))


def rows(folder: Path) -> list[dict]:
    return list(csv.DictReader((folder / "trials.csv").open()))


@pytest.mark.slow
def test_study_prunes_writes_best_yaml_that_trains_and_continues_on_rerun(tune_words, tmp_path):
    folder = tmp_path / "runs" / "study"
    storage = str(folder / "study.journal")
    seed_strong_trials(storage, "study", 2, epochs=4)
    space = tmp_path / "space.yaml"
    space.write_text("base: empty\nparams:\n  lr0: {low: 0.0002, high: 0.02, log: true}\n")
    words = [*tune_words, "trials=3", "epochs=4", f"space={space}", "pruner=median"]
    log = tune(words)
    assert "continuing after 2 trial(s)" in log
    table = rows(folder)
    assert [r["state"] for r in table] == ["complete", "complete", "pruned"]
    pruned_run = Path(table[2]["run"])
    assert pruned_run == (folder / "trial_2").absolute()
    assert 1 <= len(list(csv.DictReader((pruned_run / "results.csv").open()))) < 4  # stopped early
    assert "pruned: behind earlier trials" in log
    for plot in ("tune_history.png", "tune_parallel.png"):
        assert (folder / plot).stat().st_size > 1000

    best = folder / "best.yaml"
    cfg = build_config({"cfg": str(best)})  # a cfg file train accepts
    assert cfg.lr0 == pytest.approx(0.003) and cfg.imgsz == 64 and cfg.model.endswith("tiny.yaml")
    assert "trials" not in cfg.given and "project" not in cfg.given
    assert main(["train", f"cfg={best}", "epochs=1", f"project={tmp_path / 'after'}", "verbose=false"]) == 0

    log = tune([*words[:-3], "trials=4", "epochs=4", f"space={space}"])  # the same command, one more trial
    assert "continuing after 3 trial(s)" in log
    assert len(rows(folder)) == 4 and (folder / "trial_3" / "results.csv").is_file()


@pytest.mark.slow
def test_time_budget_stops_the_running_trial_and_starts_no_other(tune_words, tmp_path):
    started = time.perf_counter()
    log = tune([*tune_words, "trials=5", "epochs=50", "time=0.0005", "pruner=none"])  # 1.8 s
    took = time.perf_counter() - started
    table = rows(tmp_path / "runs" / "study")
    assert len(table) == 1 and table[0]["state"] == "pruned"  # cut short: not a full run's value
    # optimizer=auto picks AdamW at 0.01 / (4 + classes) for a short run: the baseline trains that rate
    assert table[0]["baseline"] == "yes" and float(table[0]["lr0"]) == pytest.approx(0.01 / 6, rel=1e-3)
    assert "stopped: the tuning time budget ran out" in log
    assert 0 < int(table[0]["epochs_reported"]) < 50
    assert took < 60  # 50 epochs would take minutes


def test_a_trial_whose_process_died_runs_again(tmp_path):
    from turboyolo.tune.study import RUN_DIR_ATTR, TrialLock, counted_trials, open_study, recover_dead_trials

    storage = str(tmp_path / "s.journal")
    study = open_study(storage, "s", "random", "none", epochs=3, seed=0)
    dead, alive = study.ask(), study.ask()
    for trial in (dead, alive):
        trial.suggest_float("lr0", 1e-3, 1e-2)
    TrialLock(tmp_path / "dead").release()  # it ran, then its process went away
    live_lock = TrialLock(tmp_path / "alive")
    dead.set_user_attr(RUN_DIR_ATTR, str(tmp_path / "dead"))
    alive.set_user_attr(RUN_DIR_ATTR, str(tmp_path / "alive"))
    import subprocess
    import sys
    # the live lock must be held by another process for the check to see it (POSIX locks are per process)
    live_lock.release()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR); fcntl.lockf(fd, fcntl.LOCK_EX);"
        "print('held', flush=True); time.sleep(60)"), str(tmp_path / "alive" / ".tune-trial.lock")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert recover_dead_trials(study) == [dead.number]
    finally:
        holder.kill()
    states = {t.number: t.state.name for t in study.get_trials()}
    assert states[dead.number] == "FAIL" and states[alive.number] == "RUNNING"
    assert counted_trials(study) == 1  # the dead one does not count, its queued copy not yet
    again = study.ask()  # the next trial asked for is the dead one's point
    assert again.suggest_float("lr0", 1e-3, 1e-2) == dead.params["lr0"]


def test_the_median_pruner_spares_the_first_half_of_the_epochs():
    from turboyolo.tune.study import make_pruner

    study = optuna.create_study(direction="maximize", pruner=make_pruner("median", epochs=4))
    for value in (0.9, 0.8):
        study.add_trial(optuna.trial.create_trial(
            params={}, distributions={}, value=value, intermediate_values={1: value, 2: value, 3: value}))
    trial = study.ask()
    for epoch in (1, 2):  # the first half of a from-scratch run says little
        trial.report(0.0, step=epoch)
        assert not trial.should_prune()
    trial.report(0.0, step=3)
    assert trial.should_prune()


def test_a_new_study_first_trains_the_configured_values_clamped_into_the_space(tmp_path):
    from turboyolo.tune.space import Param, configured_values
    from turboyolo.tune.study import BASELINE_ATTR, enqueue_baseline, open_study

    cfg = build_config({"lr0": 0.05, "momentum": 0.9, "optimizer": "sgd"})
    params = [Param("lr0", 2e-4, 2e-2, log=True), Param("momentum", 0.7, 0.98),
              Param("optimizer", choices=("adamw", "sgd")), Param("batch", choices=(8, 32))]
    values = configured_values(params, cfg)
    assert values == {"lr0": 2e-2, "momentum": 0.9, "optimizer": "sgd"}  # lr0 clamped; batch 16 is no choice
    assert configured_values(params, cfg, {"lr0": 0.001})["lr0"] == 0.001  # what the trainer picks itself
    study = open_study(str(tmp_path / "s.journal"), "s", "tpe", "none", epochs=3, seed=0)
    assert enqueue_baseline(study, values) and not enqueue_baseline(study, values)  # once, into a new study
    first = study.ask()
    assert first.suggest_float("lr0", 2e-4, 2e-2, log=True) == pytest.approx(2e-2)
    assert first.suggest_categorical("optimizer", ["adamw", "sgd"]) == "sgd"
    assert study.trials[0].user_attrs[BASELINE_ATTR] is True


@pytest.mark.slow
def test_dataset_problems_print_once_per_study_not_per_trial(tiny_model, tmp_path, recwarn):
    from turboyolo.data.records import DatasetWarning
    from turboyolo.data.synth import generate_synthetic

    data = generate_synthetic(tmp_path / "synth", n_train=8, n_val=4, imgsz=64, nc=2, seed=3)
    label = sorted((tmp_path / "synth").rglob("labels/train/*.txt"))[0]
    label.write_text(label.read_text() + "0 0.5 0.5 0 0\n")  # a zero-area box: one problem line
    tune([f"data={data}", f"model={tiny_model}", "imgsz=64", "batch=4", "workers=0", "amp=off", "plots=false",
          "close_mosaic=0", "trials=2", "epochs=1", "pruner=none", f"project={tmp_path / 'runs'}", "name=s"])
    assert len(rows(tmp_path / "runs" / "s")) == 2
    shown = [w for w in recwarn if issubclass(w.category, DatasetWarning)]
    assert len(shown) == 1 and label.stem in str(shown[0].message)


def test_a_rerun_does_not_sample_the_points_of_the_first_run_again(tmp_path):
    from turboyolo.tune.study import open_study

    storage = str(tmp_path / "s.journal")

    def draw_two(study) -> list[float]:
        values = []
        for _ in range(2):
            trial = study.ask()
            values.append(trial.suggest_float("lr0", 1e-4, 1e-2, log=True))
            study.tell(trial, 0.5)
        return values

    first = draw_two(open_study(storage, "s", "tpe", "none", epochs=3, seed=0))
    again = draw_two(open_study(storage, "s", "tpe", "none", epochs=3, seed=0))  # the same command, rerun
    assert not set(first) & set(again)
