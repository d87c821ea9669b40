"""End-to-end training on tiny synthetic data: smoke run, exact resume, and that the chain learns."""
from __future__ import annotations

import csv

import pytest
import torch

from turboyolo.config import build_config
from turboyolo.engine.checkpoint import load_checkpoint
from turboyolo.engine.trainer import Trainer


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from turboyolo.data.synth import generate_synthetic

    out = tmp_path_factory.mktemp("synth")
    return str(generate_synthetic(out, n_train=16, n_val=8, imgsz=96, nc=2, seed=1))


def tiny_cfg(data, project, **kw):
    base = dict(data=data, model="n", imgsz=96, batch=8, epochs=2, workers=0, cache="ram", project=str(project),
                name="run", verbose=False, plots=False, amp="off", close_mosaic=1, warmup_epochs=0.5)
    base.update(kw)
    return build_config(base)


class Crash(RuntimeError):
    pass


def crash_at_step(step):
    def callback(trainer):
        if trainer.state.step == step:
            raise Crash(f"simulated crash at step {step}")

    return callback


def crash_after_epoch(epoch):
    def callback(trainer):
        if len(trainer.history) == epoch:
            raise Crash(f"simulated crash after epoch {epoch}")

    return callback


def test_smoke_two_epochs_writes_run_folder(tiny_data, tmp_path):
    summary = Trainer(tiny_cfg(tiny_data, tmp_path, plots=True)).fit()
    run = tmp_path / "run"
    rows = list(csv.DictReader((run / "results.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    for column in ("box_loss", "cls_loss", "dfl_loss", "lr", "precision", "recall", "mAP50", "mAP50-95", "epoch_s",
                   "images_per_s", "data_wait_share"):
        assert column in rows[0], column
    assert float(rows[-1]["images_per_s"]) > 0
    assert (run / "weights" / "last.pt").is_file() and (run / "weights" / "best.pt").is_file()
    assert (run / "args.yaml").is_file() and (run / "results.png").is_file()
    for plot in ("labels.png", "train_batch0.png", "time_breakdown.png", "PR_curve.png", "confusion_matrix.png"):
        assert (run / plot).is_file(), plot
    best = load_checkpoint(run / "weights" / "best.pt")
    assert "train_state" not in best and best["names"] and best["spec"]
    assert summary["steps"] > 0


def _final_weights(path):
    return load_checkpoint(path)["train_state"]["model"]


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.slow
def test_resume_after_epoch_is_exact(tiny_data, tmp_path):
    full = Trainer(tiny_cfg(tiny_data, tmp_path / "a", epochs=3, deterministic=True)).fit()
    with pytest.raises(Crash):
        Trainer(tiny_cfg(tiny_data, tmp_path / "b", epochs=3, deterministic=True),
                callbacks={"on_epoch_end": [crash_after_epoch(2)]}).fit()
    # as a user resumes: only resume= (every other key comes from the checkpoint)
    resumed = Trainer(build_config(dict(resume=str(tmp_path / "b/run/weights/last.pt"), verbose=False))).fit()
    _assert_same(_final_weights(tmp_path / "a/run/weights/last.pt"), _final_weights(tmp_path / "b/run/weights/last.pt"))
    assert resumed["mAP50-95"] == full["mAP50-95"] and resumed["steps"] == full["steps"]
    assert len(list(csv.DictReader((tmp_path / "b/run/results.csv").open()))) == 3


@pytest.mark.slow
def test_resume_mid_epoch_is_exact(tiny_data, tmp_path):
    # 16 images / batch 4 = 4 micro-steps per epoch; accumulate=1 -> save at step 3 is mid-epoch 1
    kw = dict(epochs=2, batch=4, accumulate=1, deterministic=True, save_period_steps=3, warmup_epochs=0)
    Trainer(tiny_cfg(tiny_data, tmp_path / "a", **kw)).fit()
    with pytest.raises(Crash):
        Trainer(tiny_cfg(tiny_data, tmp_path / "b", **kw), callbacks={"on_optimizer_step": [crash_at_step(4)]}).fit()
    ckpt = load_checkpoint(tmp_path / "b/run/weights/last.pt")
    assert ckpt["train_state"]["samples_in_epoch"] == 12 and ckpt["epoch"] == 0
    Trainer(build_config(dict(resume=str(tmp_path / "b/run/weights/last.pt"), verbose=False))).fit()
    _assert_same(_final_weights(tmp_path / "a/run/weights/last.pt"), _final_weights(tmp_path / "b/run/weights/last.pt"))


def test_non_finite_loss_stops_with_clear_message(tiny_data, tmp_path):
    cfg = tiny_cfg(tiny_data, tmp_path, epochs=1, max_bad_steps=2, val=False)
    trainer = Trainer(cfg)

    def poison(trainer):  # make every later loss NaN
        real = trainer.task.loss_fn

        def nan_loss(raw, targets):
            loss, parts = real(raw, targets)
            return loss * float("nan"), parts

        trainer.task.loss_fn = nan_loss

    trainer.callbacks = {"on_train_start": [poison]}
    with pytest.warns(UserWarning, match="non-finite loss"):
        summary = trainer.fit()
    assert "non-finite" in summary["stop_reason"]


@pytest.mark.slow
def test_learns_synthetic_shapes(tmp_path):
    """The whole chain learns: the built-in synthetic set reaches val mAP50 >= 0.5 in ~2 CPU minutes."""
    cfg = build_config(dict(data="synthetic", model="n", imgsz=192, batch=16, nbs=16, epochs=12, close_mosaic=3,
                            project=str(tmp_path), name="learn", verbose=False, plots=False, val_period=12))
    summary = Trainer(cfg).fit()
    assert summary["mAP50"] >= 0.5, summary


def test_progressive_resizing_trains_small_then_validates_and_ends_at_imgsz(tiny_data, tmp_path):
    summary = Trainer(tiny_cfg(tiny_data, tmp_path, imgsz=128, epochs=3, progressive=0.67, progressive_min=0.5,
                               close_mosaic=1)).fit()
    rows = list(csv.DictReader((tmp_path / "run" / "results.csv").open()))
    assert [int(r["train_imgsz"]) for r in rows] == [64, 96, 128]
    assert all(r["mAP50"] != "" for r in rows)  # validated every epoch (at imgsz: the val loader has no ramp)
    assert float(rows[0]["mfu"]) <= 1.0  # MFU counts the small inputs' FLOPs, not imgsz's
    assert summary["stop_reason"] == ""
