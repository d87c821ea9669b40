"""The Python API as a user drives it: train -> val -> predict a folder -> plot / to_json -> export -> predict the .onnx."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from turboyolo import Detector
from turboyolo.config import ConfigError
from turboyolo.data.synth import class_names


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from turboyolo.data.synth import generate_synthetic

    # (out, n_train, n_val, imgsz, class count, seed)
    return str(generate_synthetic(tmp_path_factory.mktemp("synth"), 8, 4, 64, 2, 1))


def train_keys(tmp_path) -> dict:
    return dict(imgsz=64, batch=4, epochs=1, workers=0, cache="none", amp="off", project=str(tmp_path / "runs"),
                name="api", verbose=False, plots=False, warmup_epochs=0.0)


@pytest.mark.slow
def test_train_val_predict_export_end_to_end(tiny_data, tmp_path):
    epochs_seen = []
    model = Detector("n")
    model.add_callback("on_epoch_end", lambda trainer: epochs_seen.append(len(trainer.history)))
    summary = model.train(data=tiny_data, **train_keys(tmp_path))
    best = tmp_path / "runs" / "api" / "weights" / "best.pt"
    assert epochs_seen == [1] and summary["weights"] == str(best) and model.weights == str(best)

    metrics = model.val(data=tiny_data, verbose=False, project=str(tmp_path / "val"))
    assert {"precision", "recall", "mAP50", "mAP50-95", "per_class"} <= set(metrics)
    assert 0.0 <= metrics["mAP50-95"] <= 1.0

    folder = tmp_path / "images"
    folder.mkdir()
    for i, size in enumerate([(64, 64), (48, 80)]):
        cv2.imwrite(str(folder / f"{i}.png"), np.random.default_rng(i).integers(0, 255, (*size, 3), dtype=np.uint8))
    results = model.predict(str(folder), conf=0.0, max_det=5, verbose=False)
    assert [r.name for r in results] == ["0.png", "1.png"]
    first, second = results
    assert first.boxes.shape == (len(first), 4) and first.scores.shape == (len(first),) and len(first) == 5
    assert second.orig_img.shape == (48, 80, 3) and (second.boxes[:, [0, 2]] <= 80).all()
    assert first.names == class_names(2) and all(r.names == first.names for r in results)
    annotated = first.plot()
    assert annotated.shape == first.orig_img.shape and annotated.dtype == np.uint8
    assert not np.array_equal(annotated, first.orig_img)  # boxes drawn on a copy, the original kept
    parsed = json.loads(first.to_json())
    assert parsed["image"] == str(folder / "0.png") and len(parsed["detections"]) == 5
    assert set(parsed["detections"][0]) == {"class", "name", "score", "box_xyxy"}

    in_memory = model.predict(first.orig_img, conf=0.0, max_det=5, verbose=False)
    assert len(in_memory) == 1 and np.allclose(in_memory[0].boxes, first.boxes, atol=1e-3)

    pytest.importorskip("onnxruntime")
    onnx_path = model.export(verbose=False)
    assert onnx_path == best.with_suffix(".onnx") and onnx_path.is_file()
    onnx_results = Detector(onnx_path).predict(str(folder), conf=0.0, max_det=5, verbose=False)
    assert np.allclose(onnx_results[0].scores, first.scores, atol=1e-3)


def test_keys_are_validated_as_on_the_command_line(tmp_path):
    with pytest.raises(ConfigError, match="epochs"):
        Detector("n").train(epochs=0)
    with pytest.raises(ConfigError, match="epoch"):
        Detector("n").train(epoch=3)  # unknown key: the CLI's message, with the close match


def test_an_untrained_scale_says_to_train_first():
    with pytest.raises(ConfigError, match=r"call \.train"):
        Detector("n").predict("images/")


def test_onnx_weights_cannot_be_trained():
    with pytest.raises(ConfigError, match="ONNX"):
        Detector("best.onnx").train()
