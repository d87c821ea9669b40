"""time=HOURS: the epoch plan against the budget (unit), and whole runs that end inside it (end to end)."""
from __future__ import annotations

import csv

import pytest

from turboyolo.engine import time_budget
from turboyolo.engine.time_budget import EpochCost, TimeBudget, measured_cost


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _flat(e, n):
    return 1.0


def _every_epoch(e, n):
    return True


def test_plan_fits_epochs_and_validations_into_what_is_left():
    clock = FakeClock()
    budget = TimeBudget(1.0, clock)  # 3600 s
    clock.now = 100.0  # setup + first epoch
    # left for planning: 3500 - 2 x 50 (this epoch's and best.pt's validation) = 3400; 150 s per further epoch
    assert budget.plan(1, EpochCost(100.0, 50.0), _flat, _every_epoch) == 1 + 3400 // 150


def test_plan_counts_cheaper_small_epochs_of_progressive_resizing():
    budget = TimeBudget(1.0, FakeClock())
    cost = EpochCost(100.0, 0.0)
    full = budget.plan(0, cost, _flat, _every_epoch)
    quarter_early = budget.plan(0, cost, lambda e, n: 0.25 if e < n // 2 else 1.0, _every_epoch)
    assert full == 36 and quarter_early > full


def test_plan_never_drops_epochs_already_trained_and_stops_when_spent():
    clock = FakeClock()
    budget = TimeBudget(0.01, clock)  # 36 s
    clock.now = 30.0
    assert budget.plan(4, EpochCost(10.0, 1.0), _flat, _every_epoch) == 4
    assert budget.runs_out(reserve_s=10.0) and budget.plan(4, EpochCost(0.1, 0.0), _flat, _every_epoch) == 4


def test_resumed_budget_counts_time_trained_before():
    clock = FakeClock()
    budget = TimeBudget(1.0, clock)
    budget.trained_before_s = 3000.0
    assert budget.remaining_s() == 600.0


def test_measured_cost_scales_small_epochs_to_imgsz_and_estimates_validation():
    cost = measured_cost([{"epoch_s": 25.0, "train_imgsz": 208}], full_size=416, train_images=100, val_images=20)
    assert cost.train_full_s == pytest.approx(100.0)
    assert cost.val_s == pytest.approx(100.0 * time_budget.VAL_IMAGE_COST * 0.2)
    cost = measured_cost([{"epoch_s": 10.0, "val_s": 3.0}, {"epoch_s": 10.0}], 416, 100, 20)
    assert cost.val_s == 3.0  # measured beats estimated


# --- end to end: virtual time passes with every optimizer step -------------------------------------
@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from turboyolo.data.synth import generate_synthetic

    return str(generate_synthetic(tmp_path_factory.mktemp("synth"), n_train=16, n_val=8, imgsz=96, nc=2, seed=1))


@pytest.fixture
def virtual_time(monkeypatch):
    """A clock that moves only by `per_step` seconds at every optimizer step, for the budget and for the
    trainer's epoch and validation timings alike: the plan is then the same however busy the machine is."""
    import types

    from turboyolo.engine import trainer as trainer_module

    state = {"now": 0.0, "per_step": 0.0}
    monkeypatch.setattr(time_budget, "wall_clock", lambda: state["now"])
    monkeypatch.setattr(trainer_module, "time", types.SimpleNamespace(perf_counter=lambda: state["now"]))

    def tick(trainer):
        state["now"] += state["per_step"]

    state["callback"] = tick
    return state


def _cfg(data, project, **kw):
    from turboyolo.config import build_config

    base = dict(data=data, model="n", imgsz=64, batch=8, epochs=50, workers=0, cache="ram", project=str(project),
                name="run", verbose=False, plots=False, amp="off", close_mosaic=1, warmup_epochs=0, accumulate=1,
                optimizer="sgd")
    base.update(kw)
    return build_config(base)


def _rows(project):
    return list(csv.DictReader((project / "run" / "results.csv").open()))


@pytest.mark.slow
def test_time_budget_fits_lr_decay_close_mosaic_and_last_validation(tiny_data, tmp_path, virtual_time):
    from turboyolo.config import build_config
    from turboyolo.engine.checkpoint import load_checkpoint
    from turboyolo.engine.trainer import Trainer

    virtual_time["per_step"] = 30.0  # 2 steps per epoch: 60 s an epoch (validation takes no virtual time)
    seen = []  # (epoch, planned epochs, mosaic on) at every optimizer step

    def watch(trainer):
        seen.append((trainer.state.epoch, trainer.cfg.epochs, trainer.setup.train_loader.dataset.mosaic_enabled))

    cfg = _cfg(tiny_data, tmp_path, time=0.05)  # 180 s: three epochs
    summary = Trainer(cfg, callbacks={"on_optimizer_step": [virtual_time["callback"], watch]}).fit()
    rows = _rows(tmp_path)
    assert len(rows) == 3 and summary["stop_reason"] == ""  # ended by the plan (epochs=50), as a normal end
    assert rows[-1]["mAP50"] != ""  # the last epoch was validated
    assert float(rows[-1]["lr"]) == pytest.approx(float(rows[0]["lr"]) * cfg.lrf)  # the LR decay completed
    last_epoch = len(rows) - 1
    assert not any(on for epoch, _, on in seen if epoch == last_epoch)  # close_mosaic=1 hit the planned last epoch
    assert (tmp_path / "run" / "weights" / "best.pt").is_file()
    ckpt = load_checkpoint(tmp_path / "run" / "weights" / "last.pt")
    assert ckpt["epoch"] == len(rows) == ckpt["args"]["epochs"]
    assert ckpt["train_state"]["train_time_s"] == 180.0

    # resume: the budget is the run's in all, so the same time= has nothing left; a larger one trains on
    again = Trainer(build_config(dict(resume=str(tmp_path / "run"), verbose=False, workers=0))).fit()
    assert again["stop_reason"] == "finished" and "time=" in again["message"]
    virtual_time["now"] = 0.0  # a new session: its clock starts again, the checkpoint's 180 s count
    more = Trainer(build_config(dict(resume=str(tmp_path / "run"), verbose=False, workers=0, time=0.07)),  # 252 s
                   callbacks={"on_optimizer_step": [virtual_time["callback"]]}).fit()
    assert more["stop_reason"] == "" and len(_rows(tmp_path)) == 4


@pytest.mark.slow
def test_time_running_out_inside_the_first_epoch_ends_it_cleanly(tiny_data, tmp_path, virtual_time):
    from turboyolo.engine.trainer import Trainer

    virtual_time["per_step"] = 100.0  # batch 2, 8 steps an epoch; the budget is gone by the first check (step 5)
    summary = Trainer(_cfg(tiny_data, tmp_path, batch=2, time=0.05),
                      callbacks={"on_optimizer_step": [virtual_time["callback"]]}).fit()
    rows = _rows(tmp_path)
    assert len(rows) == 1 and rows[0]["mAP50"] != "" and summary["stop_reason"] == ""
    assert (tmp_path / "run" / "weights" / "best.pt").is_file() and (tmp_path / "run" / "weights" / "last.pt").is_file()


@pytest.mark.slow
def test_killed_time_run_resumes_with_its_budget_and_plans_with_what_is_left(tiny_data, tmp_path, virtual_time):
    from turboyolo.config import build_config
    from turboyolo.engine.trainer import Trainer

    class Killed(RuntimeError):
        pass

    def kill(trainer):
        raise Killed

    virtual_time["per_step"] = 30.0  # 60 s epochs against 180 s: three planned after the first epoch
    with pytest.raises(Killed):
        Trainer(_cfg(tiny_data, tmp_path, time=0.05),
                callbacks={"on_optimizer_step": [virtual_time["callback"]], "on_epoch_end": [kill]}).fit()
    virtual_time["now"], virtual_time["per_step"] = 0.0, 60.0  # the resumed session is slower: 120 s epochs
    summary = Trainer(build_config(dict(resume=str(tmp_path / "run"), verbose=False, workers=0)),  # time= from last.pt
                      callbacks={"on_optimizer_step": [virtual_time["callback"]]}).fit()
    # 60 s before the kill + 120 s for the second epoch use the 180 s: the plan shrinks from 3 epochs to 2
    assert summary["stop_reason"] == "" and len(_rows(tmp_path)) == 2
