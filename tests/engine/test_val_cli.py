"""`turboyolo val` from the checkpoint training wrote: same numbers as training's own validation, and
save_json predictions that `turboyolo eval-coco` scores to the same numbers (YOLO and COCO data).

The data is drawn so that a two-epoch model already has non-trivial metrics: one or two filled
rectangles per image covering half the frame or more, their class given by colour. A young detector's
large boxes then overlap them well, and its many near-equal scores make the metrics sensitive to
anything that changes the outputs (image size, precision, fusing, batching).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from turboyolo.cli import main
from turboyolo.engine.checkpoint import load_checkpoint

TRAIN_IMGSZ = 96  # not the default (416): val must take it from the checkpoint
SIZES = ((128, 96), (96, 128), (112, 112))  # width, height: rect validation batches three shapes
COLOURS = ((230, 60, 60), (60, 230, 60))


def write_big_boxes(root: Path, counts: dict[str, int], seed: int = 0) -> Path:
    """A YOLO dataset under root (images/<split>, labels/<split>, data.yaml); returns data.yaml."""
    rng = np.random.default_rng(seed)
    for split, count in counts.items():
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(count):
            width, height = SIZES[i % len(SIZES)]
            image = rng.integers(30, 70, (height, width, 3), dtype=np.uint8)
            lines = []
            for _ in range(int(rng.integers(1, 3))):
                w, h = rng.uniform(0.5, 1.0) * width, rng.uniform(0.5, 1.0) * height
                x1, y1 = int(rng.uniform(0, width - w)), int(rng.uniform(0, height - h))
                x2, y2 = x1 + int(w), y1 + int(h)
                cls = int(rng.integers(0, 2))
                image[y1:y2, x1:x2] = COLOURS[cls]
                lines.append(f"{cls} {(x1 + x2) / 2 / width:.6f} {(y1 + y2) / 2 / height:.6f} "
                             f"{(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}")
            cv2.imwrite(str(root / "images" / split / f"{i}.png"), image)
            (root / "labels" / split / f"{i}.txt").write_text("\n".join(lines) + "\n")
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\nnames: [red, green]\n")
    return root / "data.yaml"


def train_here(workdir: Path, counts: dict[str, int], *words: str) -> Path:
    """Train the way a user would: big-box data written under workdir/data, `train data=data/data.yaml ...`
    run from workdir itself (a relative data path). Returns the run folder."""
    write_big_boxes(workdir / "data", counts)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workdir)
        assert main(["train", "data=data/data.yaml", "workers=0", "amp=off", "plots=false", "verbose=false", *words]) == 0
    return workdir / "runs" / "train" / "exp"


TWO_EPOCHS = (f"imgsz={TRAIN_IMGSZ}", "epochs=2", "batch=8", "warmup_epochs=0.5", "close_mosaic=1")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run trained the way a user would: relative data path, from its own working folder."""
    workdir = tmp_path_factory.mktemp("trained-here")
    return workdir, train_here(workdir, {"train": 8, "val": 60}, *TWO_EPOCHS)


def best_epoch_row(run: Path) -> dict:
    epoch = int(load_checkpoint(run / "weights" / "best.pt")["epoch"])
    rows = {int(r["epoch"]): r for r in csv.DictReader((run / "results.csv").open())}
    return rows[epoch]


@pytest.fixture
def val_metrics(monkeypatch):
    """What `turboyolo val` validated, at full precision (it prints 4 decimals)."""
    import turboyolo.engine.validator as validator

    seen = []
    real = validator.validate

    def spy(*args, **kwargs):
        seen.append(real(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(validator, "validate", spy)
    return seen


@pytest.mark.slow
def test_val_with_only_weights_reproduces_training_validation(trained, val_metrics, tmp_path, monkeypatch, capsys):
    workdir, run = trained
    row = best_epoch_row(run)
    assert float(row["mAP50"]) > 0.05  # the check below means something
    monkeypatch.chdir(tmp_path)  # another folder: the checkpoint's relative data path must still resolve
    assert main(["val", f"weights={run / 'weights' / 'best.pt'}"]) == 0
    out = capsys.readouterr().out
    taken = next(line for line in out.splitlines() if "from the checkpoint" in line)
    assert f"imgsz={TRAIN_IMGSZ}" in taken and "amp=off" in taken and str(workdir / "data" / "data.yaml") in taken
    metrics = val_metrics[-1]
    assert metrics["mAP50"] == pytest.approx(float(row["mAP50"]), abs=1e-4)
    assert metrics["mAP50-95"] == pytest.approx(float(row["mAP50-95"]), abs=1e-4)


@pytest.mark.slow
def test_user_keys_win_over_the_checkpoint(trained, val_metrics, tmp_path, monkeypatch, capsys):
    workdir, run = trained
    monkeypatch.chdir(workdir)
    assert main(["val", f"weights={run / 'weights' / 'best.pt'}", "imgsz=64", "split=train"]) == 0
    out = capsys.readouterr().out
    assert f"imgsz=64 (trained with {TRAIN_IMGSZ})" in out and "train: 8 images" in out


def eval_coco(gt: Path, pred: Path, capsys) -> list[float]:
    capsys.readouterr()
    assert main(["eval-coco", f"gt={gt}", f"pred={pred}", "--json"]) == 0
    return json.loads(capsys.readouterr().out)["stats"]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["yolo", "voc"])
def test_save_json_on_yolo_or_voc_data_scores_like_val(fmt, trained, val_metrics, tmp_path, monkeypatch, capsys):
    """No COCO file to score against: the matching ground truth is written next to the predictions."""
    workdir, run = trained
    monkeypatch.chdir(tmp_path)
    data = []  # yolo: the checkpoint's own data
    if fmt == "voc":
        assert main(["convert", f"data={workdir / 'data' / 'data.yaml'}", "to=voc", "out=voc"]) == 0
        data = [f"data={tmp_path / 'voc'}"]
    assert main(["val", f"weights={run / 'weights' / 'best.pt'}", "save_json=true", *data]) == 0
    assert val_metrics[-1]["mAP50"] > 0.05
    out = tmp_path / "runs" / "val" / "exp"
    stats = eval_coco(out / "ground_truth.json", out / "predictions.json", capsys)
    assert stats[0] == pytest.approx(val_metrics[-1]["mAP50-95"], abs=1e-4)
    assert stats[1] == pytest.approx(val_metrics[-1]["mAP50"], abs=1e-4)


@pytest.mark.slow
def test_save_json_on_coco_data_scores_against_the_datasets_own_file(trained, val_metrics, tmp_path, monkeypatch,
                                                                      capsys):
    workdir, run = trained
    monkeypatch.chdir(tmp_path)
    assert main(["convert", f"data={workdir / 'data' / 'data.yaml'}", "to=coco", "out=coco"]) == 0
    gt = tmp_path / "coco" / "annotations" / "instances_val.json"
    assert main(["val", f"weights={run / 'weights' / 'best.pt'}", f"data={gt}", "save_json=true"]) == 0
    predictions = tmp_path / "runs" / "val" / "exp" / "predictions.json"
    assert not (tmp_path / "runs" / "val" / "exp" / "ground_truth.json").exists()  # the dataset's own file is the truth
    stats = eval_coco(gt, predictions, capsys)
    assert val_metrics[-1]["mAP50"] > 0.05
    assert stats[0] == pytest.approx(val_metrics[-1]["mAP50-95"], abs=1e-4)
    assert stats[1] == pytest.approx(val_metrics[-1]["mAP50"], abs=1e-4)
    file_ids = {c["id"] for c in json.loads(gt.read_text())["categories"]}
    assert {d["category_id"] for d in json.loads(predictions.read_text())} <= file_ids


def write_untrained_checkpoint(path: Path, data: Path) -> Path:
    """An untrained detector (class biases 0: many boxes) that saved data= as a training run would."""
    import torch

    from turboyolo.engine.checkpoint import atomic_save
    from turboyolo.model.build import build_model

    torch.manual_seed(0)
    model = build_model("n", 2)
    with torch.no_grad():
        for tower in model.head.cls_towers:
            tower[-1].bias.zero_()
    atomic_save({"model": model.state_dict(), "spec": model.spec, "names": ["red", "green"],
                 "args": {"imgsz": 64, "amp": "off", "data": str(data), "batch": 4, "conf": 0.3, "max_det": 30}}, path)
    return path


@pytest.fixture
def untrained(tmp_path, monkeypatch):
    data = write_big_boxes(tmp_path / "data", {"train": 1, "val": 6})
    weights = write_untrained_checkpoint(tmp_path / "w.pt", data)
    monkeypatch.chdir(tmp_path)
    return weights, data


def test_val_writes_runs_val_exp_folders_in_turn_and_honours_name_exist_ok_and_plots(untrained, tmp_path):
    weights, _ = untrained
    runs = tmp_path / "runs" / "val"
    assert main(["val", f"weights={weights}", "verbose=false"]) == 0
    assert main(["val", f"weights={weights}", "plots=false", "verbose=false"]) == 0
    assert sorted(p.name for p in runs.iterdir()) == ["exp", "exp2"]  # the first run's results kept
    assert (runs / "exp" / "PR_curve.png").is_file() and sorted(p.name for p in (runs / "exp2").iterdir()) == ["metrics.json"]
    assert main(["val", f"weights={weights}", "name=exp2", "exist_ok=true", "plots=false", "verbose=false"]) == 0
    assert sorted(p.name for p in runs.iterdir()) == ["exp", "exp2"]


def test_val_classes_scores_only_those_classes(untrained, capsys):
    weights, data = untrained
    green_boxes = sum(line.startswith("1 ") for f in (data.parent / "labels" / "val").glob("*.txt")
                      for line in f.read_text().splitlines())
    assert green_boxes > 0
    capsys.readouterr()
    assert main(["val", f"weights={weights}", "classes=1", "name=green", "plots=false"]) == 0
    table = capsys.readouterr().out.split("mAP50-95\n", 1)[1]
    assert [line.split()[0] for line in table.splitlines() if line.strip()] == ["green"]
    metrics = json.loads((Path("runs") / "val" / "green" / "metrics.json").read_text())
    assert [(row["name"], row["instances"]) for row in metrics["per_class"]] == [("green", green_boxes)]
