import torch

from turboyolo.loss.anchor_grid import AnchorGrid
from turboyolo.loss.assigner import TaskAlignedAssigner

STRIDES = (8, 16, 32)


def grid(size=64):
    return AnchorGrid([(size // s, size // s) for s in STRIDES], list(STRIDES), torch.device("cpu"))


def boxes_around(points, half=6.0):
    return torch.cat((points - half, points + half), dim=-1)


def logits(probabilities):
    return torch.logit(probabilities)


def test_positives_lie_inside_their_gt_and_at_most_topk():
    torch.manual_seed(0)
    anchors = grid()
    batch, num_anchors, num_classes = 2, anchors.num_anchors, 3
    cls_logits = logits(torch.rand(batch, num_classes, num_anchors))
    pred_boxes = boxes_around(anchors.centres).expand(batch, -1, -1) + torch.randn(batch, num_anchors, 4)
    gt_boxes = torch.tensor([[[4.0, 4.0, 40.0, 30.0], [30.0, 20.0, 60.0, 60.0]], [[10.0, 10.0, 50.0, 50.0], [0, 0, 0, 0]]])
    gt_labels = torch.tensor([[0, 2], [1, 0]])
    gt_mask = torch.tensor([[True, True], [True, False]])

    result = TaskAlignedAssigner(num_classes, topk=5)(cls_logits, pred_boxes, anchors, gt_labels, gt_boxes, gt_mask)

    centres = anchors.centres[result.anchor]
    assert ((centres > result.boxes[:, :2]) & (centres < result.boxes[:, 2:])).all()
    for b, m in [(0, 0), (0, 1), (1, 0)]:
        count = ((result.image == b) & (result.gt == m)).sum()
        assert 1 <= count <= 5
    assert (result.labels[result.image == 1] == 1).all()
    assert (result.labels == gt_labels[result.image, result.gt]).all()
    assert len(set(zip(result.image.tolist(), result.anchor.tolist()))) == len(result.anchor)  # one GT per anchor
    assert ((result.quality > 0) & (result.quality <= 1.0 + 1e-6)).all()


def test_anchor_claimed_by_two_gts_goes_to_the_better_overlap():
    anchors = grid()
    claimed = 1 * 8 + 1  # level 0, row 1, column 1: centre (12, 12), inside both GTs
    gt_boxes = torch.tensor([[[0.0, 0.0, 32.0, 32.0], [8.0, 8.0, 40.0, 24.0]]])
    pred_boxes = boxes_around(anchors.centres, half=1.0)[None].clone()
    pred_boxes[0, claimed] = gt_boxes[0, 1]  # its predicted box matches the second GT exactly
    result = TaskAlignedAssigner(2, topk=10)(
        torch.zeros(1, 2, anchors.num_anchors), pred_boxes, anchors, torch.tensor([[0, 1]]), gt_boxes,
        torch.tensor([[True, True]]),
    )
    (index,) = (result.anchor == claimed).nonzero()[0]
    assert result.gt[index] == 1 and result.labels[index] == 1
    assert torch.isclose(result.quality[index], torch.tensor(1.0), atol=1e-5)  # IoU 1 -> target 1


def test_padding_gts_are_never_assigned():
    anchors = grid()
    result = TaskAlignedAssigner(1)(
        torch.zeros(1, 1, anchors.num_anchors), boxes_around(anchors.centres)[None], anchors,
        torch.zeros(1, 1, dtype=torch.long), torch.tensor([[[0.0, 0.0, 64.0, 64.0]]]), torch.tensor([[False]]),
    )
    assert len(result.anchor) == 0 and len(result.quality) == 0
