"""The fast loss gives today's results: loss value, gradients and assignments equal those of the
frozen pre-issue-13 implementation (tests/loss/frozen_loss_v0.py) to float tolerance."""
import pytest
import torch

from tests.loss.frozen_loss_v0 import FrozenDetectionLoss
from turboyolo.loss import DetectionLoss

REG_MAX, STRIDES = 16, (8, 16, 32)


class FakeModel:
    """Just the attributes DetectionLoss reads."""

    def __init__(self, num_classes):
        self.num_classes, self.reg_max, self.strides = num_classes, REG_MAX, torch.tensor(STRIDES)


def crowded_targets(batch, num_classes, generator, boxes_per_image=30):
    """Many overlapping boxes of all sizes (some smaller than a cell, some past the border, some
    duplicated), and the last image without any box."""
    rows = []
    for image in range(batch - 1):
        n = boxes_per_image
        centres = torch.rand(n, 2, generator=generator) * 1.1 - 0.05
        sizes = torch.rand(n, 2, generator=generator) ** 2 * 0.6 + 0.005
        classes = torch.randint(num_classes, (n, 1), generator=generator).float()
        boxes = torch.cat((torch.full((n, 1), float(image)), classes, centres, sizes), 1)
        rows.append(torch.cat((boxes, boxes[:2])))  # two exact duplicates: ties between GTs
    targets = torch.cat(rows)
    return targets[torch.randperm(len(targets), generator=generator)]  # the loader's order is not by image


def random_maps(batch, num_classes, hw, generator, dtype):
    maps = []
    for stride in STRIDES:
        dist = torch.randn(batch, 4 * REG_MAX, hw[0] // stride, hw[1] // stride, generator=generator) * 2
        cls = torch.randn(batch, num_classes, hw[0] // stride, hw[1] // stride, generator=generator) * 2 - 2
        maps.append(torch.cat((dist, cls), 1).to(dtype).requires_grad_())
    return maps


def dense_assignment(assignment, batch, num_anchors, num_classes):
    """The new (foreground-only) assignment in the old dense (B, A) layout."""
    foreground = torch.zeros(batch, num_anchors, dtype=torch.bool)
    foreground[assignment.image, assignment.anchor] = True
    gt_index = torch.zeros(batch, num_anchors, dtype=torch.long)
    gt_index[assignment.image, assignment.anchor] = assignment.gt
    scores = torch.zeros(batch, num_anchors, num_classes)
    scores[assignment.image, assignment.anchor, assignment.labels] = assignment.quality
    boxes = torch.zeros(batch, num_anchors, 4)
    boxes[assignment.image, assignment.anchor] = assignment.boxes
    return foreground, gt_index, scores, boxes


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("seed, num_classes", [(0, 3), (1, 80)])
def test_loss_gradients_and_assignment_equal_the_frozen_implementation(seed, num_classes, dtype):
    generator = torch.Generator().manual_seed(seed)
    batch, hw = 4, (128, 160)  # not square: rows and columns must not be swapped
    targets = crowded_targets(batch, num_classes, generator)
    maps = random_maps(batch, num_classes, hw, generator, dtype)
    frozen_maps = [m.detach().clone().requires_grad_() for m in maps]

    loss_fn, frozen = DetectionLoss(FakeModel(num_classes)), FrozenDetectionLoss(num_classes, REG_MAX, STRIDES)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
        loss, components = loss_fn(maps, targets)
        expected_loss, expected_components = frozen(frozen_maps, targets)
    assert torch.allclose(components, expected_components, rtol=1e-5, atol=1e-6), (components, expected_components)
    assert torch.allclose(loss, expected_loss, rtol=1e-5)
    loss.backward()
    expected_loss.backward()
    for grad, expected in zip((m.grad for m in maps), (m.grad for m in frozen_maps)):
        scale = expected.float().abs().max()
        assert torch.allclose(grad.float(), expected.float(), rtol=1e-3, atol=1e-4 * scale)

    old = frozen.last_assignment
    num_anchors = old.foreground.shape[1]
    assignment = loss_fn._assign(*loss_fn._flatten(maps), targets)  # the same steps the loss call took
    foreground, gt_index, scores, boxes = dense_assignment(assignment, batch, num_anchors, num_classes)
    assert old.foreground.sum() > 100  # the inputs exercise the assigner
    assert torch.equal(foreground, old.foreground)
    assert torch.equal(gt_index[foreground], old.gt_index[foreground])
    assert torch.allclose(scores, old.scores, rtol=1e-5, atol=1e-7)
    assert torch.equal(boxes[foreground], old.boxes[foreground])
