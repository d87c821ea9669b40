import math
import re
from pathlib import Path

import pytest
import torch

from turboyolo.model import build_model
from turboyolo.perf.flops import count_params, inference_flops_per_image


@pytest.fixture(scope="module")
def model_n3():
    torch.manual_seed(0)
    return build_model("n", 3)


def test_train_mode_returns_raw_maps_per_stride(model_n3):
    model_n3.train()
    maps = model_n3(torch.rand(2, 3, 64, 96))
    assert [tuple(m.shape) for m in maps] == [(2, 67, 8, 12), (2, 67, 4, 6), (2, 67, 2, 3)]  # 4*16 + 3
    assert model_n3.strides.tolist() == [8, 16, 32] and model_n3.reg_max == 16 and model_n3.num_classes == 3


def test_eval_mode_returns_pixel_boxes_and_scores(model_n3):
    model_n3.eval()
    with torch.no_grad():
        out = model_n3(torch.rand(2, 3, 64, 96))
    assert out.shape == (2, 8 * 12 + 4 * 6 + 2 * 3, 4 + 3)
    boxes, scores = out[..., :4], out[..., 4:]
    assert (boxes[..., 2] >= boxes[..., 0]).all() and (boxes[..., 3] >= boxes[..., 1]).all()
    assert ((scores >= 0) & (scores <= 1)).all()
    # with the initial box bias the first stride-8 box is centred on its cell centre (4, 4)
    assert torch.allclose((boxes[0, 0, :2] + boxes[0, 0, 2:]) / 2, torch.tensor([4.0, 4.0]), atol=2.0)


def test_head_bias_prior(model_n3):
    cls_bias = model_n3.head.cls_towers[0][-1].bias
    assert torch.allclose(cls_bias, torch.full_like(cls_bias, math.log(5 / 3 / 80**2)))
    assert (model_n3.head.box_towers[2][-1].bias == 1.0).all()


def test_spec_rebuilds_same_architecture(model_n3):
    rebuilt = build_model(model_n3.spec)
    assert rebuilt.num_classes == 3
    rebuilt.load_state_dict(model_n3.state_dict())  # strict: same parameter names and shapes
    assert build_model(model_n3.spec, 5).num_classes == 5


def test_names_are_settable(model_n3):
    model_n3.names = ["cat", "dog", "bird"]
    assert model_n3.names[1] == "dog"


def test_yolov8n_class_size():
    """Same size as YOLOv8n. Public Ultralytics figures: nc=80 -> 3,157,200 parameters, 8.7 GFLOPs;
    nc=1 -> 3,011,043 parameters (the often quoted "3.01 M"), 8.1 GFLOPs fused (8.2 unfused, with BN).
    Both counts include 16 fixed DFL weights that we keep as a computed constant, not a parameter.
    FLOPs: 2 per multiply-add, convolutions only (perf/flops.py, torch FlopCounterMode)."""
    dfl_weights = 16
    model_80, model_1 = build_model("n", 80), build_model("n", 1)
    assert count_params(model_80) == 3_157_200 - dfl_weights
    assert abs(inference_flops_per_image(model_80, 640) / 1e9 - 8.7) / 8.7 < 0.01
    assert count_params(model_1) == 3_011_043 - dfl_weights
    assert abs(inference_flops_per_image(model_1, 640) / 1e9 - 8.1) / 8.1 < 0.01
    assert abs(inference_flops_per_image(model_1, 416) / 1e9 - 3.41) / 3.41 < 0.01


def test_readme_states_the_size_the_counters_compute():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    found = re.search(r"`model=n` has ([\d.]+) M parameters / ([\d.]+) GFLOPs at (\d+) with one class", readme)
    assert found, "README: the model=n size line moved; update this test"
    params, gflops, imgsz = float(found[1]), float(found[2]), int(found[3])
    model = build_model("n", 1)
    assert round(count_params(model) / 1e6, 2) == params
    assert round(inference_flops_per_image(model, imgsz) / 1e9, 1) == gflops


def test_channels_last_and_bf16_autocast():
    torch.manual_seed(0)
    model = build_model("n", 3).eval()
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        reference = model(images)
        model = model.to(memory_format=torch.channels_last)
        assert torch.allclose(reference, model(images.contiguous(memory_format=torch.channels_last)), atol=1e-3)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            decoded = model(images)
            maps = model.forward_raw(images)
    assert maps[0].dtype == torch.bfloat16 and decoded.dtype == torch.float32 and torch.isfinite(decoded).all()
    assert (decoded[..., :4] - reference[..., :4]).abs().max() < 4.0  # pixels, bf16 features
