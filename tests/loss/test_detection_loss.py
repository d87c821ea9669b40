import math

import pytest
import torch

from turboyolo.loss import DetectionLoss
from turboyolo.model import build_model
from turboyolo.model.head import make_anchors
from turboyolo.model.spec import load_spec

REG_MAX, NUM_CLASSES, SIZE, STRIDES = 16, 3, 64, (8, 16, 32)


class FakeModel:
    """Just the attributes DetectionLoss reads."""
    num_classes, reg_max, strides = NUM_CLASSES, REG_MAX, torch.tensor(STRIDES)


def perfect_maps(gt_box_px, gt_class, batch=1):
    """Raw maps whose every anchor inside the GT predicts the GT box exactly and its class confidently."""
    sizes = [(SIZE // s, SIZE // s) for s in STRIDES]
    points, stride = make_anchors(sizes, list(STRIDES))
    box = torch.tensor(gt_box_px) / stride  # (A, 4) stride units
    distances = torch.cat((points - box[:, :2], box[:, 2:] - points), -1).clamp(0, REG_MAX - 1.01)  # (A, 4)
    left = distances.floor().long()
    right_weight = distances - left
    probs = torch.zeros(len(points), 4, REG_MAX)
    probs.scatter_(-1, left[..., None], (1 - right_weight)[..., None])
    probs.scatter_add_(-1, (left + 1)[..., None], right_weight[..., None])
    dist_logits = torch.log(probs + 1e-12).flatten(1)
    inside = ((points * stride > box[:, :2] * stride) & (points * stride < box[:, 2:] * stride)).all(-1)
    cls_logits = torch.full((len(points), NUM_CLASSES), -12.0)
    cls_logits[inside, gt_class] = 12.0
    flat = torch.cat((dist_logits, cls_logits), -1).T[None].expand(batch, -1, -1)  # (B, C, A)
    maps, start = [], 0
    for h, w in sizes:
        maps.append(flat[..., start:start + h * w].reshape(batch, -1, h, w).clone())
        start += h * w
    return maps


def test_perfect_prediction_gives_near_zero_box_loss():
    box_px, cls = [12.0, 12.0, 44.0, 36.0], 1
    targets = torch.tensor([[0, cls, 28 / SIZE, 24 / SIZE, 32 / SIZE, 24 / SIZE]])
    loss_fn = DetectionLoss(FakeModel())
    _, perfect = loss_fn(perfect_maps(box_px, cls), targets)
    _, shifted = loss_fn(perfect_maps([20.0, 20.0, 52.0, 44.0], cls), targets)
    assert perfect[0] < 1e-3
    assert shifted[0] > 100 * perfect[0]
    assert perfect[2] < shifted[2]


def test_loss_is_fp32_from_bf16_maps_and_batch_scaled():
    maps = [m.to(torch.bfloat16) for m in perfect_maps([12.0, 12.0, 44.0, 36.0], 0, batch=4)]
    targets = torch.tensor([[0, 0, 0.5, 0.5, 0.3, 0.3], [3, 2, 0.4, 0.5, 0.2, 0.6]])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, components = DetectionLoss(FakeModel())(maps, targets)
    assert loss.dtype == torch.float32 and components.shape == (3,)
    assert torch.allclose(loss, components.sum() * 4)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("n", NUM_CLASSES).train()


def test_zero_boxes_gives_finite_loss_without_box_terms(model):
    loss_fn = DetectionLoss(model)
    loss, components = loss_fn(model(torch.rand(2, 3, SIZE, SIZE)), torch.zeros(0, 6))
    assert torch.isfinite(loss) and components[0] == 0 and components[2] == 0 and components[1] > 0
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    model.zero_grad()


def test_gradient_reaches_every_trainable_layer(model):
    targets = torch.tensor([[0, 1, 0.5, 0.5, 0.4, 0.6], [1, 2, 0.3, 0.3, 0.3, 0.2]])  # image 2 has no boxes
    loss, components = DetectionLoss(model)(model(torch.rand(3, 3, SIZE, SIZE)), targets)
    assert (components > 0).all()
    loss.backward()
    first_conv = model.layers[0].conv.weight
    box_out, cls_out = model.head.box_towers[0][-1].weight, model.head.cls_towers[0][-1].weight
    for weight in (first_conv, box_out, cls_out):
        assert weight.grad is not None and torch.isfinite(weight.grad).all() and weight.grad.abs().sum() > 0
    model.zero_grad()


def test_loss_decreases_when_overfitting_one_batch():
    torch.manual_seed(0)
    spec = load_spec("n")
    spec["scales"]["n"] = [0.33, 0.125, 256]  # half the width of n: same code path, twice as fast
    model = build_model(spec, NUM_CLASSES).train()
    images = torch.rand(2, 3, SIZE, SIZE)
    targets = torch.tensor([[0, 0, 0.5, 0.5, 0.5, 0.5], [1, 1, 0.35, 0.4, 0.3, 0.5], [1, 2, 0.75, 0.7, 0.3, 0.4]])
    loss_fn = DetectionLoss(model)
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-3)
    history = []
    for _ in range(30):
        loss, components = loss_fn(model(images), targets)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        history.append(components)
    first, last = history[0], torch.stack(history[-3:]).mean(0)
    assert math.isfinite(last.sum())
    assert last.sum() < 0.6 * first.sum()
    assert last[0] < first[0]  # boxes improve, not just the class prior
