"""Fine-tuning: `train model=best.pt` starts a fresh run from a checkpoint's weights; `freeze=N`."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

import turboyolo

from turboyolo.cli import main
from turboyolo.config import ConfigError, build_config
from turboyolo.engine.checkpoint import atomic_save, load_checkpoint
from turboyolo.engine.finetune import build_start_model
from turboyolo.engine.trainer import Trainer
from turboyolo.model.build import build_model
from turboyolo.model.spec import load_spec

SOURCE_NAMES = ["circle", "square", "triangle"]


def tiny_spec() -> dict:
    """The packaged yolo.yaml at half the width of scale n (0.9 M parameters): same 22 layers, 4x cheaper."""
    spec = load_spec("n")
    spec["scales"] = {"t": [0.33, 0.125, 1024]}
    spec["scale"] = "t"
    return spec


@pytest.fixture(scope="module")
def two_class_data(tmp_path_factory):
    from turboyolo.data.synth import generate_synthetic

    out = tmp_path_factory.mktemp("synth2")
    return str(generate_synthetic(out, n_train=16, n_val=4, imgsz=64, nc=2, seed=3))


@pytest.fixture(scope="module")
def three_class_checkpoint(tmp_path_factory):
    """A best.pt as `turboyolo train` writes it (no train_state), of a 3-class model 7 epochs in."""
    torch.manual_seed(0)
    model = build_model(tiny_spec(), len(SOURCE_NAMES))
    path = tmp_path_factory.mktemp("source") / "best.pt"
    atomic_save({"format": 1, "model": model.state_dict(), "spec": model.spec, "names": SOURCE_NAMES,
                 "args": {"epochs": 10}, "metrics": {"mAP50": 0.5}, "epoch": 7, "step": 500}, path)
    return path


def test_start_model_reports_loaded_reinitialised_and_skipped(three_class_checkpoint, capsys):
    model = build_start_model(str(three_class_checkpoint), ["circle", "square"], freeze=0, verbose=True)
    line = capsys.readouterr().out.strip()
    total = len(model.state_dict())
    assert line == (f"fine-tuning from {three_class_checkpoint} (3 classes -> 2): {total - 6} tensors loaded, "
                    "6 re-initialised (class outputs), 0 skipped (no tensor of that name and shape)")
    source = load_checkpoint(three_class_checkpoint)["model"]
    assert torch.equal(model.state_dict()["layers.0.conv.weight"], source["layers.0.conv.weight"])
    assert model.num_classes == 2 and model.names == ["circle", "square"]


def test_freeze_keeps_frozen_batchnorm_in_eval_mode_while_training():
    model = build_model("n", 2).freeze(3)
    model.train()
    frozen = {id(m) for m in model.layers[:3].modules()}
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            assert module.training == (id(module) not in frozen)
    assert not any(p.requires_grad for p in model.layers[:3].parameters())
    assert all(p.requires_grad for p in model.layers[3:].parameters())
    assert all(p.requires_grad for p in model.head.parameters())


def test_freeze_beyond_the_layers_is_a_config_error():
    with pytest.raises(ConfigError, match=r"freeze=23: the model has 22 layers"):
        build_start_model("n", ["a"], freeze=23, verbose=False)


def test_finetune_is_a_fresh_run_and_frozen_layers_do_not_change(two_class_data, three_class_checkpoint, tmp_path):
    cfg = build_config(dict(data=two_class_data, model=str(three_class_checkpoint), freeze=10, imgsz=64, batch=8,
                            nbs=8, epochs=1, val=False, workers=0, cache="none", project=str(tmp_path),
                            name="ft", verbose=False, plots=False, amp="off", warmup_epochs=0))
    summary = Trainer(cfg).fit()
    assert summary["steps"] == 2  # 16 images, batch 8
    start = load_checkpoint(three_class_checkpoint)["model"]
    last = load_checkpoint(tmp_path / "ft" / "weights" / "last.pt")
    assert last["epoch"] == 1 and last["step"] == 2 and last["names"] == ["circle", "square"]  # epoch 0, not 7
    for weights in (last["train_state"]["model"], last["model"]):  # raw and EMA
        frozen = [k for k in start if k.split(".")[:2] in [["layers", str(i)] for i in range(10)]]
        assert frozen and all(torch.equal(weights[k], start[k]) for k in frozen)  # weights and BN statistics
        trained = [k for k in start if k.startswith("layers.12.") and start[k].dtype.is_floating_point]
        assert any(not torch.equal(weights[k], start[k]) for k in trained)
    rows = list(csv.DictReader((tmp_path / "ft" / "results.csv").open()))
    assert [row["epoch"] for row in rows] == ["1"]


def _train_cli(capsys, data, model, tmp_path):
    code = main(["train", f"data={data}", f"model={model}", "epochs=1", "imgsz=64", "workers=0", "cache=none",
                 f"project={tmp_path}", "verbose=false", "plots=false"])
    return code, capsys.readouterr().err.strip()


def test_missing_start_checkpoint_is_one_line(two_class_data, tmp_path, capsys):
    code, err = _train_cli(capsys, two_class_data, tmp_path / "runs" / "exp" / "weights" / "best.pt", tmp_path)
    assert code == 1 and len(err.splitlines()) == 1
    assert "model=" in err and "no such checkpoint" in err


@pytest.mark.parametrize("content", [b"not a torch file\n", "torch-dict-without-model"])
def test_foreign_pt_is_one_line(two_class_data, tmp_path, capsys, content):
    path = tmp_path / "foreign.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save({"state_dict": {}}, path)
    code, err = _train_cli(capsys, two_class_data, path, tmp_path)
    assert code == 2 and len(err.splitlines()) == 1
    assert f"model={path}" in err and ("not a turboyolo checkpoint" in err or "cannot be read as a checkpoint" in err)
    assert err.count("weights/best.pt") == 1  # the fix, said once


@pytest.mark.slow
def test_finetuning_from_the_cli_learns_a_new_class_set_in_fewer_epochs_than_from_scratch(tmp_path):
    """train (3 classes) -> `turboyolo train model=.../best.pt` on 2 classes: mAP50 >= 0.1 after the first
    epoch, while the same training from scratch stays below it for 3 epochs.

    Measured (tiny spec, 96 px, 4 data/training seeds): fine-tuned epoch 1 mAP50 0.19-0.25; from scratch
    0.002-0.005 after 3 epochs. 15 s on a quiet 2-core CPU (much more while other jobs share it).
    """
    model_yaml = tmp_path / "tiny.yaml"
    model_yaml.write_text(yaml.safe_dump(tiny_spec(), sort_keys=False))
    runs = tmp_path / "runs"
    common = ["imgsz=96", "batch=16", "nbs=16", "workers=0", "cache=none", "plots=false", "verbose=false", "mosaic=0",
              "warmup_epochs=1", "close_mosaic=0", "optimizer=adamw", "lr0=0.01", f"project={runs}"]
    assert main(["synth", f"out={tmp_path / 's3'}", "nc=3", "n=160", "imgsz=96", "seed=100"]) == 0
    assert main(["synth", f"out={tmp_path / 's2'}", "nc=2", "n=80", "imgsz=96", "seed=200"]) == 0
    assert main(["train", f"data={tmp_path / 's3' / 'data.yaml'}", f"model={model_yaml}", "epochs=12", "val_period=12",
                 "name=source", *common]) == 0
    best = runs / "source" / "weights" / "best.pt"

    # the command a user types, in a fresh process: nothing but the path tells it the architecture
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(turboyolo.__file__).parents[1]),
                                                        os.environ.get("PYTHONPATH", "")])}
    finetune = subprocess.run([sys.executable, "-m", "turboyolo", "train", f"data={tmp_path / 's2' / 'data.yaml'}",
                               f"model={best}", "epochs=3", "name=finetuned", *common],
                              env=env, capture_output=True, text=True, timeout=600)
    assert finetune.returncode == 0, finetune.stderr[-2000:]
    assert main(["train", f"data={tmp_path / 's2' / 'data.yaml'}", f"model={model_yaml}", "epochs=3", "name=scratch",
                 *common]) == 0

    def map50_per_epoch(name):
        return [float(row["mAP50"]) for row in csv.DictReader((runs / name / "results.csv").open())]

    def first_epoch_reaching(curve, level):
        return next((epoch for epoch, value in enumerate(curve, 1) if value >= level), None)

    finetuned, scratch = map50_per_epoch("finetuned"), map50_per_epoch("scratch")
    message = f"mAP50 per epoch: fine-tuned {finetuned}, from scratch {scratch}"
    assert first_epoch_reaching(finetuned, 0.1) == 1, message
    assert first_epoch_reaching(scratch, 0.1) is None, message
    assert load_checkpoint(runs / "finetuned" / "weights" / "best.pt")["names"] == ["circle", "square"]
