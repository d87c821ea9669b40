"""Predictor and eval_model: a checkpoint becomes a fused eval-mode detector that predicts in original pixels."""
from pathlib import Path

import numpy as np
import torch
from torch import nn

from turboyolo.engine.checkpoint import atomic_save, eval_model, load_checkpoint
from turboyolo.engine.predictor import Predictor
from turboyolo.model.build import build_model


def _checkpoint(tmp_path):
    torch.manual_seed(0)
    model = build_model("n", 2)
    with torch.no_grad():  # class biases at 0: a random network then emits many boxes
        for tower in model.head.cls_towers:
            tower[-1].bias.zero_()
    path = tmp_path / "w.pt"
    atomic_save({"model": model.state_dict(), "spec": model.spec, "names": ["a", "b"], "args": {"imgsz": 64}}, path)
    return path, model


def test_eval_model_is_fused_and_predicts_like_the_saved_model(tmp_path):
    path, model = _checkpoint(tmp_path)
    fused = eval_model(load_checkpoint(path))
    assert not fused.training and not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(fused(images), model.eval()(images), atol=1e-3)


def test_predictor_returns_boxes_inside_each_original_image(tmp_path):
    path, _ = _checkpoint(tmp_path)
    predictor = Predictor(str(path), torch.device("cpu"))
    assert predictor.imgsz == 64 and predictor.names == ["a", "b"]
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (48, 96, 3), dtype=np.uint8), rng.integers(0, 255, (120, 40, 3), dtype=np.uint8)]
    out = predictor.predict_batch(images, conf=0.01, iou=0.7, max_det=50)
    assert len(out) == 2 and sum(len(d) for d in out) > 0
    for det, image in zip(out, images):
        assert det.shape[1] == 6 and len(det) <= 50
        assert (det[:, [0, 2]] >= 0).all() and (det[:, [0, 2]] <= image.shape[1]).all()
        assert (det[:, [1, 3]] >= 0).all() and (det[:, [1, 3]] <= image.shape[0]).all()
    assert predictor.times.images == 2


def test_predict_reads_every_image_file_training_reads(tmp_path):
    from turboyolo.data.formats.image_probe import IMAGE_EXTENSIONS, UNSUPPORTED_IMAGE_EXTENSIONS, scan_image_folder
    from turboyolo.data.sources import list_sources

    for ext in sorted(IMAGE_EXTENSIONS | UNSUPPORTED_IMAGE_EXTENSIONS | {".txt", ".xml"}):
        for name in (f"a{ext}", f"b{ext.upper()}"):
            (tmp_path / name).write_bytes(b"")  # only the names matter to both
    training, _ = scan_image_folder(str(tmp_path))
    assert [s.path.name for s in list_sources(str(tmp_path))] == [Path(p).name for p in training]
    assert sorted(s.name for s in list_sources(str(tmp_path / "*"))) == sorted(Path(p).name for p in training)
