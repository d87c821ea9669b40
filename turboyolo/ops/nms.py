"""Exact greedy non-maximum suppression for a whole batch, without torchvision.

Greedy NMS walks boxes from the highest score down and keeps a box unless an already *kept*
box of the same group (image, class) overlaps it by more than ``iou_thres``. That rule is a
recursion over a directed acyclic graph: edge i -> j when i scores higher than j, both share a
group and IoU(i, j) > iou_thres; keep[j] = no kept i with an edge into j. We solve it for every
image and class at once as a fixed point, ``keep <- not any(keep[i] for edges i -> j)``,
starting from "keep all". The recursion has exactly one solution, so the first iteration that
changes nothing has found it: the kept set is the same as the classic loop's, never an
approximation (unlike Fast-NMS). Each iteration is one scatter over the edge list, and the
count of iterations is the longest suppression chain (a handful in practice), not the count
of boxes.

Groups are separated by an id compare instead of the usual "add class * big offset to the
coordinates" trick: with a batch-wide offset (image and class) the coordinates reach millions,
where float32 rounds to a quarter pixel and IoUs would drift from the reference.
"""
from __future__ import annotations

import torch

from turboyolo.ops.boxes import box_area

# Pairs (group members x group members) whose IoU is computed in one go: bounds peak memory.
PAIR_BUDGET = 1 << 23


def _overlap_edges(boxes: torch.Tensor, group: torch.Tensor, iou_thres: float):
    """Edges (src, dst), src < dst, same group, IoU(src, dst) > iou_thres.

    boxes: (N, 4) xyxy, sorted by (group, score desc); group: (N,) int64 sorted ids.
    Only pairs inside a group are computed: groups are padded to a square (size x size) IoU block,
    largest first, and blocks of similar size are stacked while they fit PAIR_BUDGET.
    """
    device = boxes.device
    _, sizes = torch.unique_consecutive(group, return_counts=True)
    starts = torch.cumsum(sizes, 0) - sizes
    by_size = torch.sort(sizes, descending=True, stable=True).indices
    sizes_host = sizes[by_size].tolist()  # one host copy: chunk shapes must be known on the host
    areas = box_area(boxes)
    sources, targets = [], []
    first = 0
    while first < len(sizes_host) and sizes_host[first] > 1:
        side = sizes_host[first]
        count = max(1, min(PAIR_BUDGET // (side * side), len(sizes_host) - first))
        chunk = by_size[first : first + count]
        first += count
        offsets = torch.arange(side, device=device)
        member = starts[chunk, None] + offsets  # (G, side) indices into boxes
        present = offsets < sizes[chunk, None]
        member = torch.where(present, member, torch.zeros_like(member))
        x1, y1, x2, y2 = boxes[member].unbind(-1)  # each (G, side)
        # per coordinate, not on (..., 2) pairs: half the temporaries of a box_iou call
        inter_w = (torch.minimum(x2[:, :, None], x2[:, None, :]) - torch.maximum(x1[:, :, None], x1[:, None, :])).clamp_(min=0)
        inter_h = (torch.minimum(y2[:, :, None], y2[:, None, :]) - torch.maximum(y1[:, :, None], y1[:, None, :])).clamp_(min=0)
        inter = inter_w.mul_(inter_h)
        block_areas = areas[member]
        union = block_areas[:, :, None] + block_areas[:, None, :] - inter
        # degenerate (zero-area) pairs have IoU 0, not 0/0
        iou = torch.where(union > 0, inter / union, torch.zeros_like(inter))
        overlapping = (iou > iou_thres) & present[:, None, :] & torch.ones(side, side, dtype=torch.bool, device=device).triu(1)
        which, row, col = overlapping.nonzero(as_tuple=True)
        sources.append(member[which, row])
        targets.append(member[which, col])
    if not sources:
        empty = torch.zeros(0, dtype=torch.long, device=device)
        return empty, empty
    return torch.cat(sources), torch.cat(targets)


def greedy_keep(boxes: torch.Tensor, scores: torch.Tensor, group: torch.Tensor, iou_thres: float) -> torch.Tensor:
    """Greedy NMS within groups.

    boxes: (N, 4) xyxy; scores: (N,); group: (N,) int64 (boxes of different groups never suppress
    each other). Returns kept indices into the inputs, ordered by (group, score desc); equal
    scores keep input order (stable sort), as a reference loop over a stable sort would.
    """
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    order = order[torch.sort(group[order], stable=True).indices]
    sorted_boxes, sorted_group = boxes[order], group[order]
    src, dst = _overlap_edges(sorted_boxes, sorted_group, iou_thres)
    n = sorted_boxes.shape[0]
    keep = torch.ones(n, dtype=torch.bool, device=boxes.device)
    if src.numel():
        while True:
            suppressed = torch.zeros(n, dtype=torch.int32, device=boxes.device)
            suppressed.index_add_(0, dst, keep[src].to(torch.int32))
            new_keep = suppressed == 0
            if torch.equal(new_keep, keep):  # one host sync per iteration, not per box
                break
            keep = new_keep
    return order[keep]


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_thres: float) -> torch.Tensor:
    """Single-group greedy NMS: boxes (N, 4) xyxy, scores (N,) -> kept indices (K,), score descending."""
    group = torch.zeros(boxes.shape[0], dtype=torch.long, device=boxes.device)
    return greedy_keep(boxes, scores, group, iou_thres)


def non_max_suppression(
    pred: torch.Tensor,
    conf_thres: float = 0.25,
    iou_thres: float = 0.7,
    max_det: int = 300,
    agnostic: bool = False,
    max_candidates: int = 30000,
    multi_label: bool = False,
) -> list[torch.Tensor]:
    """Batch NMS on raw detector output.

    pred: (B, A, 4 + nc): xyxy boxes in input pixels, then per-class scores (already sigmoid).
    conf_thres: candidates need score > conf_thres. multi_label: every (box, class) pair above the
    threshold is a candidate (better mAP in validation); otherwise only each box's best class.
    max_candidates: at most this many highest-scoring candidates per image enter NMS.
    agnostic: one group per image instead of one per (image, class).
    Returns B tensors (n, 6): x1, y1, x2, y2, score, class (float32 for half inputs); score
    descending, n <= max_det. Host syncs: a constant few plus one per fixed-point iteration.
    """
    if pred.dtype not in (torch.float32, torch.float64):
        pred = pred.float()  # half-precision IoUs near the threshold would flip keep decisions
    batch, anchors, channels = pred.shape
    num_classes = channels - 4
    device = pred.device
    boxes, class_scores = pred[..., :4], pred[..., 4:]
    if multi_label:
        flat_scores = class_scores.reshape(batch, anchors * num_classes)
    else:
        flat_scores, best_class = class_scores.max(-1)
    above = flat_scores > conf_thres
    # one sync: the widest image decides how many top scores to gather for all
    k = int(min(above.sum(1).max().item() if batch else 0, max_candidates))
    if k == 0:
        return [pred.new_zeros((0, 6)) for _ in range(batch)]
    top_scores, top_index = flat_scores.topk(k, dim=1)  # (B, k) sorted, descending
    valid = top_scores > conf_thres
    if multi_label:
        anchor_index, cls = top_index // num_classes, top_index % num_classes
    else:
        anchor_index, cls = top_index, best_class.gather(1, top_index)
    image = torch.arange(batch, device=device)[:, None].expand(batch, k)
    image, anchor_index, cls, cand_scores = image[valid], anchor_index[valid], cls[valid], top_scores[valid]
    cand_boxes = boxes[image, anchor_index]
    group = image if agnostic else image * num_classes + cls
    kept = greedy_keep(cand_boxes, cand_scores, group, iou_thres)

    # back to (image, score desc) order, then the first max_det of each image
    kept = kept[torch.sort(cand_scores[kept], descending=True, stable=True).indices]
    kept = kept[torch.sort(image[kept], stable=True).indices]
    kept_image = image[kept]
    per_image = torch.bincount(kept_image, minlength=batch)
    first_of_image = torch.cumsum(per_image, 0) - per_image
    rank = torch.arange(kept.shape[0], device=device) - first_of_image[kept_image]
    kept = kept[rank < max_det]
    out = torch.cat([cand_boxes[kept], cand_scores[kept, None], cls[kept, None].to(pred.dtype)], 1)
    return list(out.split(per_image.clamp(max=max_det).tolist()))
