"""`val`/`predict weights=yolov8n.pt`: an Ultralytics YOLOv8 checkpoint is read like one of ours."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from tests.model.foreign import ultralytics_fakes as fakes
from turboyolo.cli import main
from turboyolo.engine.weights import inference_model, load_weights


def test_predict_takes_a_yolov8_checkpoint_directly(tmp_path, capsys):
    fake = fakes.build_fake("n", nc=80)
    fakes.write_checkpoint(tmp_path / "yolov8n.pt", fake)

    weights = load_weights(tmp_path / "yolov8n.pt")
    assert weights["names"][:2] == ["person", "bicycle"] and weights["args"] == {"imgsz": 640}
    images = torch.rand(1, 3, 64, 64)
    with torch.no_grad():  # the same network: decoded boxes and scores of our model from the raw maps of theirs
        expected = inference_model(weights).head.decode(fake.eval()(images))
        torch.testing.assert_close(inference_model(weights)(images), expected, rtol=1e-4, atol=1e-3)

    cv2.imwrite(str(tmp_path / "cells.jpg"), np.full((64, 64, 3), 127, np.uint8))
    code = main(["predict", f"weights={tmp_path / 'yolov8n.pt'}", f"source={tmp_path / 'cells.jpg'}", "imgsz=64",
                 f"project={tmp_path / 'runs'}", "conf=0.0", "save_json=true"])
    assert code == 0, capsys.readouterr().err
    assert "yours: imgsz=64 (trained with 640)" in capsys.readouterr().out
    assert (tmp_path / "runs" / "exp" / "cells.jpg").is_file()


@pytest.mark.slow
def test_export_takes_a_yolov8_checkpoint_directly(tmp_path, capsys):
    fakes.write_checkpoint(tmp_path / "yolov8n.pt", fakes.build_fake("n", nc=80))
    code = main(["export", f"weights={tmp_path / 'yolov8n.pt'}", "imgsz=64", "simplify=false"])
    assert code == 0, capsys.readouterr().err
    onnx = load_weights(tmp_path / "yolov8n.onnx")
    assert onnx["names"][:2] == ["person", "bicycle"] and onnx["imgsz"] == 64
