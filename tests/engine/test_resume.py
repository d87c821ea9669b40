"""Resume and the run folder as users meet them: kills at unlucky moments, finished runs, live runs,
overrides, a bad batch, and results.csv that never loses or repeats a row."""
from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from turboyolo.config import ConfigError, build_config
from turboyolo.engine.checkpoint import load_checkpoint
from turboyolo.engine.run_dir import RunDir
from turboyolo.engine.trainer import Trainer
from tests.engine.test_trainer import Crash, tiny_cfg


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from turboyolo.data.synth import generate_synthetic

    return str(generate_synthetic(tmp_path_factory.mktemp("synth"), n_train=16, n_val=8, imgsz=64, nc=2, seed=2))


def small(data, project, **kw):
    base = dict(imgsz=64, batch=4, nbs=4, cache="none")
    base.update(kw)
    return tiny_cfg(data, project, **base)


def resume_cfg(project, **kw):
    return build_config(dict(resume=str(project / "run" / "weights" / "last.pt"), verbose=False, **kw))


def epochs_in_csv(run):
    return [int(r["epoch"]) for r in csv.DictReader((run / "results.csv").open())]


def test_kill_after_a_step_checkpoint_on_the_last_batch_resumes(tiny_data, tmp_path, monkeypatch):
    # 16 images / batch 4 = 4 steps per epoch; save_period_steps=2 saves on the epoch's last batch too
    cfg = small(tiny_data, tmp_path, epochs=2, save_period_steps=2)

    def crash(*args, **kwargs):
        raise Crash("killed during validation")

    with monkeypatch.context() as patch:
        patch.setattr("turboyolo.engine.trainer.validate", crash)
        with pytest.raises(Crash):
            Trainer(cfg).fit()
    ckpt = load_checkpoint(tmp_path / "run/weights/last.pt")
    assert ckpt["epoch"] == 0 and ckpt["train_state"]["samples_in_epoch"] == 16
    summary = Trainer(resume_cfg(tmp_path)).fit()
    assert epochs_in_csv(tmp_path / "run") == [1, 2]
    assert summary["steps"] == 8 and math.isfinite(summary["box_loss"]) and summary["box_loss"] > 0


def test_kill_between_last_pt_and_results_csv_loses_no_row(tiny_data, tmp_path, monkeypatch):
    cfg = small(tiny_data, tmp_path, epochs=3)
    real = RunDir.write_results

    def crash_on_second_epoch(self, history):
        if len(history) == 2:
            raise Crash("killed before the CSV write")
        real(self, history)

    with monkeypatch.context() as patch:
        patch.setattr(RunDir, "write_results", crash_on_second_epoch)
        with pytest.raises(Crash):
            Trainer(cfg).fit()
    assert epochs_in_csv(tmp_path / "run") == [1]  # the row of epoch 2 is only in last.pt now
    Trainer(resume_cfg(tmp_path)).fit()
    assert epochs_in_csv(tmp_path / "run") == [1, 2, 3]


def test_val_period_keeps_one_header_and_resumes(tiny_data, tmp_path):
    cfg = small(tiny_data, tmp_path, epochs=3, val_period=2)
    with pytest.raises(Crash):
        Trainer(cfg, callbacks={"on_epoch_end": [lambda t: (_ for _ in ()).throw(Crash()) if len(t.history) == 2
                                                else None]}).fit()
    Trainer(resume_cfg(tmp_path)).fit()
    rows = list(csv.DictReader((tmp_path / "run/results.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["mAP50"] == "" and rows[1]["mAP50"] != "" and rows[2]["mAP50-95"] != ""
    assert "val_s" in rows[0]


def test_resuming_a_finished_run_says_so(tiny_data, tmp_path, capsys):
    Trainer(small(tiny_data, tmp_path, epochs=1, val=False)).fit()
    summary = Trainer(build_config(dict(resume=str(tmp_path / "run/weights/last.pt")))).fit()
    assert summary["stop_reason"] == "finished"
    assert "is finished (1/1 epochs)" in capsys.readouterr().out


def test_resume_keeps_the_run_and_extends_epochs(tiny_data, tmp_path, capsys):
    Trainer(small(tiny_data, tmp_path, epochs=1, val=False)).fit()
    summary = Trainer(build_config(dict(resume=str(tmp_path / "run/weights/last.pt"), epochs=2))).fit()
    assert "epochs=2 (was 1)" in capsys.readouterr().out
    assert epochs_in_csv(tmp_path / "run") == [1, 2] and summary["steps"] == 8
    saved = load_checkpoint(tmp_path / "run/weights/last.pt")["args"]
    assert saved["imgsz"] == 64 and saved["epochs"] == 2  # the run's identity kept, the extension recorded
    with pytest.raises(ConfigError, match="resume keeps the run's imgsz=64"):
        Trainer(build_config(dict(resume=str(tmp_path / "run/weights/last.pt"), epochs=3, imgsz=96))).fit()


def test_resume_refuses_a_run_another_process_is_training(tiny_data, tmp_path):
    Trainer(small(tiny_data, tmp_path, epochs=1, val=False)).fit()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from turboyolo.engine.run_dir import RunDir
        RunDir({str(tmp_path / 'run')!r}).lock(); print('locked', flush=True); time.sleep(60)""")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigError, match=f"being trained right now by process {holder.pid}"):
            Trainer(build_config(dict(resume="True", project=str(tmp_path), epochs=2, verbose=False))).fit()
    finally:
        holder.kill()
        holder.wait()
    # a killed holder frees the folder at once
    Trainer(build_config(dict(resume="True", project=str(tmp_path), epochs=2, verbose=False))).fit()
    assert epochs_in_csv(tmp_path / "run") == [1, 2]


def test_partial_checkpoints_are_swept_and_files_follow_the_umask(tiny_data, tmp_path):
    Trainer(small(tiny_data, tmp_path, epochs=1, val=False)).fit()
    weights = tmp_path / "run" / "weights"
    (weights / ".last.pt.k2j3h4.tmp").write_bytes(b"\0" * 1000)  # what a kill inside a save leaves
    old = os.umask(0o022)
    try:
        Trainer(build_config(dict(resume=str(weights / "last.pt"), epochs=2, verbose=False))).fit()
    finally:
        os.umask(old)
    assert not list(weights.glob(".*.tmp"))
    assert (weights / "last.pt").stat().st_mode & 0o777 == 0o644
    assert (weights / "best.pt").stat().st_mode & 0o777 == 0o644


def test_max_bad_steps_mid_epoch_is_not_a_finished_epoch(tiny_data, tmp_path):
    trainer = Trainer(small(tiny_data, tmp_path, epochs=1, max_bad_steps=2))

    def poison_after_first_step(trainer):
        real = trainer.task.loss_fn

        def nan_from_step_1(raw, targets):
            loss, parts = real(raw, targets)
            return (loss * float("nan") if trainer.state.iteration >= 1 else loss), parts

        trainer.task.loss_fn = nan_from_step_1

    trainer.callbacks = {"on_train_start": [poison_after_first_step]}
    with pytest.warns(UserWarning, match="non-finite"):
        summary = trainer.fit()
    assert summary["stop_reason"].startswith("stopped:")
    ckpt = load_checkpoint(tmp_path / "run/weights/last.pt")
    assert ckpt["epoch"] == 0 and ckpt["train_state"]["samples_in_epoch"] == 12  # 1 good + 2 bad steps of 4
    assert not (tmp_path / "run/results.csv").exists()
    Trainer(resume_cfg(tmp_path)).fit()  # it resumes where it stopped (e.g. with a lower lr0)
    assert epochs_in_csv(tmp_path / "run") == [1]


def _nan_at_forward(k):
    calls = {"n": 0}

    def hook(module, args):
        if module.training:
            calls["n"] += 1
            if calls["n"] == k:
                return (args[0] * float("nan"),)
        return None

    return hook


@pytest.mark.slow
def test_one_nan_batch_leaves_model_buffers_and_ema_as_they_were(tiny_data, tmp_path):
    clean = Trainer(small(tiny_data, tmp_path / "clean", epochs=3)).fit()
    trainer = Trainer(small(tiny_data, tmp_path / "bad", epochs=3))
    trainer.callbacks = {"on_train_start": [lambda t: t.setup.model.register_forward_pre_hook(_nan_at_forward(3))]}
    with pytest.warns(UserWarning, match="non-finite"):
        bad = trainer.fit()
    s = trainer.setup
    for tensor in [*s.model.buffers(), *s.ema.module.state_dict().values()]:
        assert torch.isfinite(tensor.float()).all()
    for name in ("last.pt", "best.pt"):
        weights = load_checkpoint(tmp_path / "bad/run/weights" / name)["model"]
        assert all(torch.isfinite(v.float()).all() for v in weights.values()), name
    assert bad["steps"] == clean["steps"] - 1  # exactly one step skipped
    assert abs(bad["mAP50"] - clean["mAP50"]) < 0.1 and math.isfinite(bad["mAP50-95"])


def test_final_report_validates_best_pt(tiny_data, tmp_path):
    def no_later_improvement(trainer):
        if len(trainer.history) == 1:
            trainer.state.best_fitness = float("inf")  # epoch 1 stays best; later epochs do not replace best.pt

    summary = Trainer(small(tiny_data, tmp_path, epochs=2), callbacks={"on_epoch_end": [no_later_improvement]}).fit()
    rows = list(csv.DictReader((tmp_path / "run/results.csv").open()))
    assert summary["best_epoch"] == 1
    assert summary["best"]["mAP50-95"] == pytest.approx(float(rows[0]["mAP50-95"]), abs=1e-5)
    assert summary["best"]["val_s"] > 0


def test_resume_keeps_a_given_lr0_under_optimizer_auto(tiny_data, tmp_path):
    Trainer(small(tiny_data, tmp_path, epochs=1, val=False, optimizer="auto", lr0=0.0025)).fit()
    trainer = Trainer(build_config(dict(resume=str(tmp_path / "run/weights/last.pt"), epochs=2, verbose=False)))
    trainer.fit()
    assert trainer.setup.derived.lr0 == pytest.approx(0.0025)
