"""An Ultralytics YOLOv8 .pt (built here by the fakes, with the real package absent) imported onto our detector."""
from __future__ import annotations

import importlib.util
import sys

import pytest
import torch

from tests.model.foreign import ultralytics_fakes as fakes
from turboyolo.model.build import build_model
from turboyolo.model.foreign import ForeignCheckpointError, import_yolov8_checkpoint, is_yolov8_checkpoint


@pytest.fixture(scope="module")
def yolov8n(tmp_path_factory):
    """(path of a yolov8n.pt-like file, the fake model holding the file's fp16-rounded values in fp32)."""
    model = fakes.build_fake("n", nc=80)
    path = tmp_path_factory.mktemp("yolov8") / "yolov8n.pt"
    fakes.write_checkpoint(path, model)
    return path, model


def _their_tensors(model) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if not k.endswith("dfl.conv.weight")}


def test_every_tensor_lands_where_it_belongs_without_the_ultralytics_package(yolov8n):
    path, fake = yolov8n
    assert importlib.util.find_spec("ultralytics") is None and not any(m.startswith("ultralytics") for m in sys.modules)
    assert is_yolov8_checkpoint(path)

    ckpt = import_yolov8_checkpoint(path)

    assert not any(m.startswith("ultralytics") for m in sys.modules)  # nothing imported on the file's behalf
    assert ckpt["spec"]["scale"] == "n"
    assert ckpt["names"][:3] == ["person", "bicycle", "car"] and len(ckpt["names"]) == 80
    assert "YOLOv8n 8.0.0, 80 classes): 354/354 of our weight tensors matched" in ckpt["imported"]
    assert ckpt["model"].pop("head.strides").tolist() == [8, 16, 32]  # theirs keeps it outside the state_dict
    theirs = list(_their_tensors(fake).values())
    ours = list(ckpt["model"].values())  # our state_dict order: the same walk as theirs
    assert len(ours) == len(theirs) == 354
    for key, mine, their in zip(ckpt["model"], ours, theirs):
        assert mine.dtype == (torch.float32 if their.is_floating_point() else their.dtype), key
        assert torch.equal(mine, their.to(mine.dtype)), key


def test_imported_detector_computes_what_the_original_computes(yolov8n):
    path, fake = yolov8n
    ckpt = import_yolov8_checkpoint(path)
    model = build_model(ckpt["spec"], len(ckpt["names"]))
    model.load_state_dict(ckpt["model"])
    images = torch.rand(2, 3, 96, 64)
    with torch.no_grad():
        ours, theirs = model.eval().forward_raw(images), fake.eval()(images)
    assert [m.shape for m in ours] == [m.shape for m in theirs] == [(2, 144, 12, 8), (2, 144, 6, 4), (2, 144, 3, 2)]
    for mine, their in zip(ours, theirs):  # box distances then class logits, per stride
        torch.testing.assert_close(mine, their, rtol=1e-5, atol=1e-5)


def test_scale_is_recognised_from_the_widths_and_depths(tmp_path):
    model = fakes.build_fake("m", nc=3)  # depth 0.67: two bottlenecks per C2f, 768 channels max
    model.names = ["cat", "dog", "bird"]  # older files keep a list instead of a dict
    fakes.write_checkpoint(tmp_path / "yolov8m.pt", model)
    ckpt = import_yolov8_checkpoint(tmp_path / "yolov8m.pt")
    assert ckpt["spec"]["scale"] == "m" and ckpt["names"] == ["cat", "dog", "bird"]
    assert "YOLOv8m 8.0.0, 3 classes): 474/474" in ckpt["imported"]


def test_another_architecture_is_refused_naming_the_layer(tmp_path):
    model = fakes.build_fake("n", nc=2, layer2=fakes.C3k2)  # a YOLO11 block where YOLOv8 has C2f
    fakes.write_checkpoint(tmp_path / "yolo11n.pt", model)
    with pytest.raises(ForeignCheckpointError, match=r"yolo11n.pt: layer 2 is C3k2 reading \[1\] where the YOLOv8 "
                                                     r"layout has C2f reading \[1\]; only YOLOv8 detection"):
        import_yolov8_checkpoint(tmp_path / "yolo11n.pt")


def test_a_fused_model_is_refused_naming_the_tensor(tmp_path):
    model = fakes.build_fake("n", nc=2)
    first = model.model[0]
    first.conv = torch.nn.Conv2d(3, 16, 3, 2, 1, bias=True)  # BN folded into the conv, as for inference
    del first.bn
    fakes.write_checkpoint(tmp_path / "fused.pt", model)
    with pytest.raises(ForeignCheckpointError, match=r"fused.pt \(YOLOv8n\): has no tensor for our layers.0.bn.weight"):
        import_yolov8_checkpoint(tmp_path / "fused.pt")


def test_a_turboyolo_checkpoint_is_not_taken_for_a_foreign_one(tmp_path):
    from turboyolo.engine.checkpoint import atomic_save

    model = build_model("n", 2)
    atomic_save({"model": model.state_dict(), "spec": model.spec, "names": ["a", "b"],
                 "args": {"data": "ultralytics.nn.yaml"}}, tmp_path / "best.pt")
    assert not is_yolov8_checkpoint(tmp_path / "best.pt")
    (tmp_path / "notes.pt").write_text("not a torch file")
    assert not is_yolov8_checkpoint(tmp_path / "notes.pt")
