"""NMS must keep exactly the boxes the classic greedy loop keeps."""
import pytest
import torch

from turboyolo.ops.boxes import box_iou
from turboyolo.ops.nms import nms, non_max_suppression


def reference_greedy(boxes, scores, iou_thres):
    """The textbook loop: walk by score (stable), keep a box unless a kept box overlaps it."""
    order = torch.sort(scores, descending=True, stable=True).indices.tolist()
    inter_union = box_iou(boxes, boxes, eps=0.0)
    kept = []
    for i in order:
        if all(not inter_union[k, i] > iou_thres for k in kept):
            kept.append(i)
    return kept


def reference_batch_nms(pred, conf_thres, iou_thres, max_det, agnostic, multi_label):
    out = []
    for image_pred in pred:
        boxes, class_scores = image_pred[:, :4], image_pred[:, 4:]
        rows = []
        if multi_label:
            anchor, cls = (class_scores > conf_thres).nonzero(as_tuple=True)
            scores = class_scores[anchor, cls]
        else:
            scores, cls = class_scores.max(1)
            anchor = (scores > conf_thres).nonzero(as_tuple=True)[0]
            scores, cls = scores[anchor], cls[anchor]
        groups = [None] if agnostic else sorted(set(cls.tolist()))
        for group in groups:
            member = torch.ones_like(cls, dtype=torch.bool) if group is None else cls == group
            idx = member.nonzero(as_tuple=True)[0]
            for k in reference_greedy(boxes[anchor[idx]], scores[idx], iou_thres):
                j = idx[k]
                rows.append((float(scores[j]), *boxes[anchor[j]].tolist(), int(cls[j])))
        rows.sort(key=lambda r: -r[0])
        out.append(rows[:max_det])
    return out


def random_pred(generator, batch=3, anchors=60, num_classes=3, size=100.0):
    centre = torch.rand(batch, anchors, 2, generator=generator) * size
    # a few clusters so that suppression chains are long enough to need several iterations
    centre[:, ::3] = centre[:, :1]  + torch.randn(batch, anchors // 3 + (anchors % 3 > 0), 2, generator=generator) * 4
    wh = torch.rand(batch, anchors, 2, generator=generator) * 30 + 1
    boxes = torch.cat([centre - wh / 2, centre + wh / 2], -1)
    scores = torch.rand(batch, anchors, num_classes, generator=generator)
    return torch.cat([boxes, scores], -1)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("agnostic,multi_label", [(False, False), (True, False), (False, True)])
def test_batch_nms_matches_reference(seed, agnostic, multi_label):
    generator = torch.Generator().manual_seed(seed)
    pred = random_pred(generator)
    got = non_max_suppression(pred, conf_thres=0.2, iou_thres=0.45, max_det=25, agnostic=agnostic, multi_label=multi_label)
    want = reference_batch_nms(pred, 0.2, 0.45, 25, agnostic, multi_label)
    assert len(got) == pred.shape[0]
    for got_image, want_image in zip(got, want):
        assert got_image.shape == (len(want_image), 6)
        expected = torch.tensor([[*r[1:5], r[0], r[5]] for r in want_image]).reshape(-1, 6)
        torch.testing.assert_close(got_image, expected)


def test_nms_single_group_matches_reference():
    generator = torch.Generator().manual_seed(7)
    for _ in range(20):
        n = int(torch.randint(0, 80, (1,), generator=generator))
        xy = torch.rand(n, 2, generator=generator) * 50
        boxes = torch.cat([xy, xy + torch.rand(n, 2, generator=generator) * 40 + 0.5], 1)
        scores = torch.rand(n, generator=generator).round(decimals=1)  # ties: order must be stable
        assert nms(boxes, scores, 0.3).tolist() == reference_greedy(boxes, scores, 0.3)


def test_chain_needs_many_iterations():
    # boxes sliding right by a small step: each overlaps only its neighbours, so greedy keeps every
    # other one; a one-shot (Fast-NMS) rule would drop all but the first
    boxes = torch.tensor([[i * 6.0, 0.0, i * 6.0 + 10, 10.0] for i in range(12)])
    scores = torch.linspace(1.0, 0.5, 12)
    assert nms(boxes, scores, 0.2).tolist() == list(range(0, 12, 2))


def test_empty_and_all_below_threshold():
    pred = torch.zeros(2, 10, 6)
    out = non_max_suppression(pred, conf_thres=0.25)
    assert [o.shape for o in out] == [(0, 6), (0, 6)]
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).numel() == 0


def test_max_candidates_and_max_det():
    generator = torch.Generator().manual_seed(1)
    pred = random_pred(generator, batch=2, anchors=90)
    out = non_max_suppression(pred, conf_thres=0.0, iou_thres=0.9, max_det=4, max_candidates=10)
    assert all(o.shape[0] == 4 for o in out)
    best = pred[..., 4:].amax(-1).max(1).values
    torch.testing.assert_close(torch.stack([o[0, 4] for o in out]), best)


def test_half_precision_input_gives_float32_output():
    generator = torch.Generator().manual_seed(3)
    pred = random_pred(generator)
    out_half = non_max_suppression(pred.half(), conf_thres=0.2, iou_thres=0.45)
    assert all(o.dtype == torch.float32 for o in out_half)
