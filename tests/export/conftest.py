"""Models for the export tests, made once per session.

trained: two epochs on large coloured boxes (see test_val_cli), enough for non-trivial mAP, so that
  `val` of its .onnx against its .pt compares something; its outputs barely depend on the image.
lively: an untrained detector whose BatchNorm statistics come from real-looking images and whose
  class biases are 0, so scores spread around 0.5 and change from image to image: int8's
  detections can then be compared with fp32's.
"""
from __future__ import annotations

import contextlib
import io

import pytest
import torch

from tests.engine.test_val_cli import TWO_EPOCHS, train_here
from turboyolo.cli import main
from turboyolo.engine.checkpoint import atomic_save
from turboyolo.engine.predictor import letterbox_batch
from turboyolo.export.sample_images import synthetic_images
from turboyolo.model.build import build_model

TRAIN_IMGSZ = 96


def export(*words: str) -> str:
    """Run `turboyolo export ...` (it must succeed); returns what it printed."""
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        assert main(["export", *words]) == 0
    return log.getvalue()


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """best.pt of a 2-epoch run (relative data path, trained from its own folder)."""
    run = train_here(tmp_path_factory.mktemp("export-trained"), {"train": 8, "val": 60}, *TWO_EPOCHS)
    return run / "weights" / "best.pt"


@pytest.fixture(scope="session")
def exported(trained):
    """{"pt", "onnx", "int8": paths, "log": what export printed}: best.pt exported where training left it,
    from another folder (data and imgsz come from the checkpoint)."""
    log = export(f"weights={trained}", "int8=true", "calib=8")
    return {"pt": trained, "onnx": trained.with_name("best.onnx"), "int8": trained.with_name("best_int8.onnx"),
            "log": log}


@pytest.fixture(scope="session")
def lively(tmp_path_factory):
    """{"pt", "onnx", "int8", "log"} of the lively model (data=synthetic), exported with int8=true."""
    torch.manual_seed(0)
    model = build_model("n", 2)
    images, _ = synthetic_images(16, TRAIN_IMGSZ, 2, seed=1)
    pixels, _ = letterbox_batch(images, TRAIN_IMGSZ, 32)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # the plain average over the batch below
            module.reset_running_stats()
    with torch.no_grad():
        model.train()(pixels.float() / 255)
        for tower in model.head.cls_towers:
            tower[-1].bias.zero_()
    path = tmp_path_factory.mktemp("export-lively") / "best.pt"
    atomic_save({"model": model.state_dict(), "spec": model.spec, "names": ["a", "b"],
                 "args": {"imgsz": TRAIN_IMGSZ, "amp": "off", "data": "synthetic"}}, path)
    log = export(f"weights={path}", "int8=true", "calib=16")
    return {"pt": path, "onnx": path.with_name("best.onnx"), "int8": path.with_name("best_int8.onnx"), "log": log}
