"""COCO's greedy detection-to-ground-truth matching, vectorised over images, classes, IoU
thresholds and area ranges at once.

pycocotools runs, for every (image, class, area range, IoU threshold), a Python loop over
detections (score order) and ground truths. The rule it applies, for one detection, is:
among ground truths still free (a crowd one is never used up) with IoU >= threshold, take
the best regular (not ignored) one; only if there is none, the best ignored one; on equal
IoU the later ground truth in file order wins. pycocotools gets "regular first" by sorting
ignored ground truths last and stopping at the first ignored one once a regular match is
held; taking the argmax separately over the two sets gives the same choice, so no reordering
per area range is needed here.

We loop over detection rank only (at most maxDets, 100): step d matches the d-th detection
of every (image, class) group for all thresholds and area ranges with a few array ops.
"""
from __future__ import annotations

import numpy as np

# Elements of the (area, threshold, group, gt) state arrays processed at once: bounds memory.
STATE_BUDGET = 1 << 23


def coco_box_iou(dets: np.ndarray, gts: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """IoU exactly as pycocotools' bbIou computes it (float64, same operation order).

    dets: (..., D, 4) xywh; gts: (..., G, 4) xywh; crowd: (..., G) bool: for a crowd ground truth
    the union is the detection's area. Returns (..., D, G).
    """
    dx, dy, dw, dh = (dets[..., :, None, i] for i in range(4))
    gx, gy, gw, gh = (gts[..., None, :, i] for i in range(4))
    width = np.minimum(dw + dx, gw + gx) - np.maximum(dx, gx)
    height = np.minimum(dh + dy, gh + gy) - np.maximum(dy, gy)
    inter = width * height
    det_area = dw * dh
    union = np.where(crowd[..., None, :], det_area, det_area + gw * gh - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / union
    return np.where((width > 0) & (height > 0), iou, 0.0)


def _group_ranges(keys: np.ndarray, query: np.ndarray):
    """keys: sorted (N,); query: (Q,) -> start, count of each query value in keys."""
    start = np.searchsorted(keys, query, side="left")
    return start, np.searchsorted(keys, query, side="right") - start


def match_detections(
    det_key: np.ndarray,
    det_boxes: np.ndarray,
    gt_key: np.ndarray,
    gt_boxes: np.ndarray,
    gt_crowd: np.ndarray,
    gt_ignore: np.ndarray,
    iou_thresholds: np.ndarray,
) -> np.ndarray:
    """Greedy COCO matching.

    det_key: (M,) group id (image, class) of each detection, detections sorted by (group, score
    desc) and already cut to maxDets per group; det_boxes: (M, 4) xywh.
    gt_key: (N,) group id of each ground truth (file order); gt_boxes: (N, 4) xywh; gt_crowd: (N,)
    bool; gt_ignore: (A, N) bool per area range (crowd or area outside the range).
    iou_thresholds: (T,). Returns (A, T, M) index of the matched ground truth, -1 when unmatched.
    """
    num_areas, num_thresholds = gt_ignore.shape[0], len(iou_thresholds)
    matched_gt = np.full((num_areas, num_thresholds, len(det_key)), -1, dtype=np.int64)
    if len(det_key) == 0 or len(gt_key) == 0:
        return matched_gt
    thresholds = np.minimum(iou_thresholds, 1 - 1e-10)[:, None, None]  # as pycocotools clips them
    gt_order = np.argsort(gt_key, kind="stable")  # file order kept inside each group
    groups, det_start, det_count = np.unique(det_key, return_index=True, return_counts=True)
    gt_start, gt_count = _group_ranges(gt_key[gt_order], groups)
    by_det_count = np.argsort(-det_count, kind="stable")  # step d then touches a prefix of groups
    det_start, det_count = det_start[by_det_count], det_count[by_det_count]
    gt_start, gt_count = gt_start[by_det_count], gt_count[by_det_count]

    first = 0
    while first < len(groups):
        depth = int(det_count[first])
        stop = len(groups)
        width = max(1, int(gt_count[first:stop].max()))
        stop = min(stop, first + max(1, STATE_BUDGET // (num_areas * num_thresholds * depth * width)))
        width = int(gt_count[first:stop].max())
        if width > 0:
            _match_chunk(
                slice(first, stop), det_start, det_count, gt_start, gt_count, gt_order, det_boxes,
                gt_boxes, gt_crowd, gt_ignore, thresholds, depth, width, matched_gt,
            )
        first = stop
    return matched_gt


def _match_chunk(chunk, det_start, det_count, gt_start, gt_count, gt_order, det_boxes, gt_boxes,
                 gt_crowd, gt_ignore, thresholds, depth, width, matched_gt):
    """Match the groups in `chunk` (padded to depth detections x width ground truths), in place."""
    det_slot = np.arange(depth)
    gt_slot = np.arange(width)
    det_index = det_start[chunk, None] + np.minimum(det_slot, det_count[chunk, None] - 1)
    gt_present = gt_slot < gt_count[chunk, None]
    gt_index = gt_order[np.where(gt_present, gt_start[chunk, None] + gt_slot, 0)]  # (n, width)
    crowd = gt_crowd[gt_index]
    iou = coco_box_iou(det_boxes[det_index], gt_boxes[gt_index], crowd)  # (n, depth, width)
    iou = np.where(gt_present[:, None, :], iou, -1.0)
    ignore = gt_ignore[:, gt_index] & gt_present  # (A, n, width)
    counts = det_count[chunk]
    used = np.zeros((gt_ignore.shape[0], thresholds.shape[0], len(counts), width), dtype=bool)
    for d in range(depth):
        active = int(np.count_nonzero(counts > d))  # groups sorted by count: a prefix
        iou_d = iou[:active, d, :]
        free = ~(used[:, :, :active] & ~crowd[:active])  # crowd ground truths stay free
        candidate = (iou_d >= thresholds)[None] & free & gt_present[:active]
        regular = candidate & ~ignore[:, None, :active]
        has_regular = regular.any(-1, keepdims=True)
        chosen = np.where(has_regular, regular, candidate)
        key = np.where(chosen, iou_d, -1.0)
        best = width - 1 - np.argmax(key[..., ::-1], axis=-1)  # last maximum wins, as in pycocotools
        found = chosen.any(-1)
        area_i, thr_i, group_i = np.nonzero(found)
        slot = best[area_i, thr_i, group_i]
        used[area_i, thr_i, group_i, slot] = True
        det_global = det_start[chunk][group_i] + d
        matched_gt[area_i, thr_i, det_global] = gt_index[group_i, slot]
