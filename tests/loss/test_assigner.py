import torch

from turboyolo.loss.assigner import TaskAlignedAssigner
from turboyolo.model.head import make_anchors


def grid(size=64, strides=(8, 16, 32)):
    points, stride = make_anchors([(size // s, size // s) for s in strides], list(strides))
    return points * stride  # (A, 2) pixels


def boxes_around(points, half=6.0):
    return torch.cat((points - half, points + half), dim=-1)


def test_positives_lie_inside_their_gt_and_at_most_topk():
    torch.manual_seed(0)
    anchors = grid()
    batch, num_anchors, num_classes = 2, len(anchors), 3
    pred_scores = torch.rand(batch, num_anchors, num_classes)
    pred_boxes = boxes_around(anchors).expand(batch, -1, -1) + torch.randn(batch, num_anchors, 4)
    gt_boxes = torch.tensor([[[4.0, 4.0, 40.0, 30.0], [30.0, 20.0, 60.0, 60.0]], [[10.0, 10.0, 50.0, 50.0], [0, 0, 0, 0]]])
    gt_labels = torch.tensor([[0, 2], [1, 0]])
    gt_mask = torch.tensor([[True, True], [True, False]])

    result = TaskAlignedAssigner(num_classes, topk=5)(pred_scores, pred_boxes, anchors, gt_labels, gt_boxes, gt_mask)

    fg = result.foreground
    assert fg.any()
    centres = anchors.expand(batch, -1, -1)[fg]
    boxes = result.boxes[fg]
    assert ((centres > boxes[:, :2]) & (centres < boxes[:, 2:])).all()
    for b, m in [(0, 0), (0, 1), (1, 0)]:
        count = (fg[b] & (result.gt_index[b] == m)).sum()
        assert 1 <= count <= 5
    assert (result.labels[1][fg[1]] == 1).all()
    # soft class targets: only the assigned class, in (0, 1], none for background
    assert (result.scores[~fg] == 0).all()
    assert (result.scores[fg].argmax(-1) == result.labels[fg]).all()
    assert (result.scores.amax(-1)[fg] <= 1.0 + 1e-6).all()


def test_anchor_claimed_by_two_gts_goes_to_the_better_overlap():
    anchors = torch.tensor([[16.0, 16.0], [100.0, 100.0]])
    gt_boxes = torch.tensor([[[0.0, 0.0, 32.0, 32.0], [8.0, 8.0, 40.0, 24.0]]])
    # the anchor's predicted box matches the second GT exactly
    pred_boxes = torch.tensor([[[8.0, 8.0, 40.0, 24.0], [90.0, 90.0, 110.0, 110.0]]])
    pred_scores = torch.full((1, 2, 2), 0.5)
    result = TaskAlignedAssigner(2, topk=10)(
        pred_scores, pred_boxes, anchors, torch.tensor([[0, 1]]), gt_boxes, torch.tensor([[True, True]])
    )
    assert result.foreground.tolist() == [[True, False]]
    assert result.gt_index[0, 0] == 1 and result.labels[0, 0] == 1
    assert torch.allclose(result.scores[0, 0], torch.tensor([0.0, 1.0]), atol=1e-5)  # IoU 1 -> target 1


def test_padding_gts_are_never_assigned():
    anchors = grid()
    pred_boxes = boxes_around(anchors)[None]
    result = TaskAlignedAssigner(1)(
        torch.rand(1, len(anchors), 1), pred_boxes, anchors,
        torch.zeros(1, 1, dtype=torch.long), torch.tensor([[[0.0, 0.0, 64.0, 64.0]]]), torch.tensor([[False]]),
    )
    assert not result.foreground.any() and (result.scores == 0).all()
