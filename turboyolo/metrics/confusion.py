"""Detection confusion matrix: which class each prediction was given vs. what was really there.

Rows are predicted classes, columns true classes; the extra last row/column is "background":
a prediction matching no object lands in row c, column background (a false positive); an
object that no prediction matched lands in row background, column c (a miss). Predictions and
objects are paired class-agnostically (so a dog called a cat shows up off the diagonal),
greedily by IoU, highest first, each used at most once. A prediction left unpaired that lies on
ignored ground truth (VOC difficult, COCO crowd) is not counted at all, as in the mAP.
"""
from __future__ import annotations

import numpy as np


def box_iou_numpy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a (N, 4) xyxy, b (M, 4) xyxy -> (N, M) IoU (0 where the union is empty)."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def greedy_pairs(iou: np.ndarray, iou_thres: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (row, col) of the greedy highest-IoU-first one-to-one matching with IoU > iou_thres.

    Without a loop over pairs: a pair that is the best of its row and of its column is the one
    greedy takes (nothing better can claim either side), so take all such pairs, drop their rows
    and columns, repeat. Each round takes at least the global maximum.
    """
    iou = np.where(iou > iou_thres, iou, -1.0)
    rows, cols = [], []
    while iou.size and iou.max() > 0:
        best_col = iou.argmax(1)
        best_row = iou.argmax(0)
        row = np.nonzero((best_row[best_col] == np.arange(iou.shape[0])) & (iou.max(1) > 0))[0]
        col = best_col[row]
        rows.append(row)
        cols.append(col)
        iou[row, :] = -1.0
        iou[:, col] = -1.0
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(rows), np.concatenate(cols)


class ConfusionMatrix:
    """Counts (num_classes + 1, num_classes + 1): [predicted, true], index num_classes = background."""

    def __init__(self, num_classes: int, conf_thres: float = 0.25, iou_thres: float = 0.45):
        self.num_classes = num_classes
        self.conf_thres = conf_thres
        self.iou_thres = iou_thres
        self.matrix = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)

    def add_image(self, gt_boxes: np.ndarray, gt_classes: np.ndarray, dets: np.ndarray,
                  ignored_boxes: np.ndarray | None = None) -> None:
        """gt_boxes (N, 4) xyxy, gt_classes (N,), dets (M, 6) xyxy, score, class, ignored_boxes (K, 4)
        xyxy; same pixel frame."""
        dets = dets[dets[:, 4] > self.conf_thres]
        gt_classes = np.asarray(gt_classes, dtype=np.int64).reshape(-1)
        det_classes = dets[:, 5].astype(np.int64)
        background = self.num_classes
        det_row, gt_col = greedy_pairs(box_iou_numpy(dets[:, :4], np.asarray(gt_boxes).reshape(-1, 4)), self.iou_thres)
        np.add.at(self.matrix, (det_classes[det_row], gt_classes[gt_col]), 1)
        unmatched_dets = np.ones(len(dets), dtype=bool)
        unmatched_dets[det_row] = False
        if ignored_boxes is not None and len(ignored_boxes) and unmatched_dets.any():
            on_ignored = box_iou_numpy(dets[:, :4], np.asarray(ignored_boxes).reshape(-1, 4)).max(1) > self.iou_thres
            unmatched_dets &= ~on_ignored
        np.add.at(self.matrix, (det_classes[unmatched_dets], background), 1)
        unmatched_gts = np.ones(len(gt_classes), dtype=bool)
        unmatched_gts[gt_col] = False
        np.add.at(self.matrix, (background, gt_classes[unmatched_gts]), 1)
