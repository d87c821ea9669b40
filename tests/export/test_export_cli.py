"""`turboyolo export` end to end: the ONNX file matches PyTorch, validates and predicts as its checkpoint
does, an int8 file runs and finds fp32's detections again, and a wrong export is refused."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import turboyolo.export.onnx_export as onnx_export
from tests.engine.test_predict_cli import write_checkpoint
from tests.export.conftest import TRAIN_IMGSZ
from turboyolo.cli import main
from turboyolo.engine.checkpoint import eval_model, load_checkpoint
from turboyolo.engine.predictor import letterbox_batch
from turboyolo.engine.weights import inference_model, load_weights
from turboyolo.export.sample_images import synthetic_images
from turboyolo.export.verify import detection_agreement

@pytest.fixture
def val_metrics(monkeypatch):
    """What each `turboyolo val` validated, at full precision (it prints 4 decimals)."""
    import turboyolo.engine.validator as validator

    seen, real = [], validator.validate

    def spy(*args, **kwargs):
        seen.append(real(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(validator, "validate", spy)
    return seen


def test_export_of_an_onnx_file_names_what_to_give(tmp_path, capsys):
    assert main(["export", f"weights={tmp_path / 'best.onnx'}"]) == 2
    assert "already ONNX: export the .pt checkpoint" in capsys.readouterr().err


def test_int8_without_the_training_images_says_so(tmp_path, capsys):
    write_checkpoint(tmp_path / "best.pt")
    torch.save({**torch.load(tmp_path / "best.pt"), "args": {"imgsz": 64, "data": "gone/data.yaml"}},
               tmp_path / "best.pt")
    assert main(["export", f"weights={tmp_path / 'best.pt'}", "int8=true"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "int8=true calibrates on training images: data=gone/data.yaml" in err
    assert "pass data=PATH" in err and not (tmp_path / "best.onnx").exists()


@pytest.mark.slow
def test_onnx_beside_the_weights_matches_pytorch_and_describes_itself(exported, lively):
    assert exported["onnx"].is_file() and exported["int8"].is_file()
    assert not list(exported["onnx"].parent.glob(".*unchecked"))  # no staged file left behind
    log = exported["log"]
    assert f"input 1x3x{TRAIN_IMGSZ}x{TRAIN_IMGSZ}" in log  # batch 1 unless given
    assert f"onnxruntime vs PyTorch on 8 val images of {exported['pt'].parents[4] / 'data'}" in log  # its own data
    ckpt = load_checkpoint(lively["pt"])
    meta = load_weights(lively["onnx"])
    assert meta["names"] == ckpt["names"] and meta["spec"] == ckpt["spec"]
    assert (meta["imgsz"], meta["stride"], meta["strides"], meta["precision"]) == (TRAIN_IMGSZ, 32, [8, 16, 32], "fp32")
    images = torch.rand(3, 3, TRAIN_IMGSZ, TRAIN_IMGSZ)  # 3 images through a batch-1 graph: chunked
    with torch.inference_mode():
        reference = eval_model(ckpt)(images)
    exported_out = inference_model(meta)(images)
    assert exported_out.shape == reference.shape and reference[..., 4:].std() > 0.01  # outputs that vary
    assert (exported_out[..., :4] - reference[..., :4]).abs().max() < 0.05  # pixels (boxes reach 400 px)
    assert (exported_out[..., 4:] - reference[..., 4:]).abs().max() < 1e-4  # scores


@pytest.mark.slow
def test_onnx_validates_like_its_checkpoint(exported, val_metrics, capsys):
    """A fixed-size graph validates on square letterboxes: the .pt with rect_val=false is its reference."""
    assert main(["val", f"weights={exported['onnx']}", "plots=false"]) == 0
    taken = next(line for line in capsys.readouterr().out.splitlines() if "from the checkpoint" in line)
    assert f"imgsz={TRAIN_IMGSZ}" in taken and "rect_val=False" in taken and "amp=off" in taken
    assert main(["val", f"weights={exported['pt']}", "rect_val=false", "amp=off", "plots=false"]) == 0
    onnx_metrics, pt_metrics = val_metrics
    assert pt_metrics["mAP50"] > 0.05  # the comparison means something
    for key in ("mAP50", "mAP50-95", "precision", "recall"):
        assert onnx_metrics[key] == pytest.approx(pt_metrics[key], abs=1e-3)


@pytest.mark.slow
def test_predict_onnx_draws_the_checkpoints_boxes(exported, tmp_path):
    source = f"source={exported['pt'].parents[4] / 'data' / 'images' / 'val'}"
    results = {}
    for name, weights in (("pt", exported["pt"]), ("onnx", exported["onnx"])):
        assert main(["predict", f"weights={weights}", source, f"project={tmp_path}", f"name={name}", "amp=off",
                     "conf=0.001", "max_det=5"]) == 0
        results[name] = json.loads((tmp_path / name / "predictions.json").read_text())
    assert results["pt"].keys() == results["onnx"].keys()
    count = 0
    in_order = lambda boxes: sorted(boxes, key=lambda b: (b["class"], b["box_xyxy"]))  # noqa: E731 (near-tied scores)
    for image, boxes in results["pt"].items():
        assert len(results["onnx"][image]) == len(boxes)
        for a, b in zip(in_order(boxes), in_order(results["onnx"][image])):
            assert a["class"] == b["class"] and a["score"] == pytest.approx(b["score"], abs=1e-3)
            assert np.allclose(a["box_xyxy"], b["box_xyxy"], atol=0.05)
            count += 1
    assert count > 0


@pytest.mark.slow
def test_int8_model_runs_and_finds_the_fp32_detections(lively):
    meta = load_weights(lively["int8"])
    assert meta["precision"] == "int8" and meta["names"] == load_weights(lively["onnx"])["names"]
    assert lively["int8"].stat().st_size < lively["onnx"].stat().st_size / 3  # int8 weights
    assert "int8 vs fp32 on 8 val images of synthetic" in lively["log"]
    images, _ = synthetic_images(8, TRAIN_IMGSZ, 2, seed=5)
    pixels = letterbox_batch(images, TRAIN_IMGSZ, 32)[0].float() / 255
    fp32_out = inference_model(load_weights(lively["onnx"]))(pixels).numpy()
    int8_out = inference_model(meta)(pixels).numpy()
    assert np.abs(int8_out - fp32_out).max() > 0  # it is another model
    found, total = detection_agreement(fp32_out, int8_out, conf=0.65, iou=0.7)  # a few boxes per image
    assert total > 20 and found >= 0.75 * total


@pytest.mark.slow
def test_int8_validates_like_any_onnx_file(exported, val_metrics, capsys):
    for weights in (exported["onnx"], exported["int8"]):
        assert main(["val", f"weights={weights}", "plots=false"]) == 0
    fp32_metrics, int8_metrics = val_metrics
    # a 2-epoch model's scores are near-tied, so rounding moves its mAP more than a trained model's
    assert int8_metrics["mAP50"] > 0.7 * fp32_metrics["mAP50"] and fp32_metrics["mAP50"] > 0.05


@pytest.mark.slow
def test_dynamic_onnx_validates_rect_batches_like_its_checkpoint(trained, tmp_path, val_metrics, capsys):
    """dynamic=true: any batch and image size, so val keeps the checkpoint's rect batches."""
    weights = tmp_path / "weights" / "best.pt"
    weights.parent.mkdir()
    weights.write_bytes(trained.read_bytes())
    data = f"data={trained.parents[4] / 'data' / 'data.yaml'}"  # the copy is away from its training folder
    assert main(["export", f"weights={weights}", "dynamic=true", data]) == 0
    assert "input batchx3xheightxwidth" in capsys.readouterr().out
    assert main(["val", f"weights={weights.with_suffix('.onnx')}", "plots=false", data]) == 0
    taken = next(line for line in capsys.readouterr().out.splitlines() if "from the checkpoint" in line)
    assert "rect_val" not in taken
    assert main(["val", f"weights={weights}", "amp=off", "plots=false", data]) == 0
    onnx_metrics, pt_metrics = val_metrics
    assert onnx_metrics["mAP50-95"] == pytest.approx(pt_metrics["mAP50-95"], abs=1e-3)
    assert onnx_metrics["mAP50"] == pytest.approx(pt_metrics["mAP50"], abs=1e-3)


@pytest.mark.slow
def test_an_export_that_differs_from_pytorch_is_an_error_and_not_kept(trained, tmp_path, monkeypatch, capsys):
    """As if the exporter mistranslated an op: the graph written is not the model checked against."""
    weights = tmp_path / "best.pt"
    weights.write_bytes(trained.read_bytes())
    (tmp_path / "best.onnx").write_bytes(b"an earlier export")  # kept as it was
    real_eval_model = onnx_export.eval_model

    def mistranslated(ckpt, *args, **kwargs):
        model = real_eval_model(ckpt, *args, **kwargs)
        with torch.no_grad():
            model.head.cls_towers[0][-1].bias += 0.5
        return model

    monkeypatch.setattr(onnx_export, "eval_model", mistranslated)
    assert main(["export", f"weights={weights}", "simplify=false"]) == 1
    out, err = capsys.readouterr()
    assert "from the checkpoint: data=" in out  # the checkpoint names its data by absolute path: found from a copy
    err = err.strip()
    assert len(err.splitlines()) == 1 and "differs from PyTorch's" in err and "not kept" in err
    assert (tmp_path / "best.onnx").read_bytes() == b"an earlier export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.onnx", "best.pt"]
