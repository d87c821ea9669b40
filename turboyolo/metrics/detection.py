"""Validation metrics for a detector: COCO mAP, P/R at the best-F1 confidence, per-class table,
PR curves and a confusion matrix, from per-image numpy arrays.

mAP50-95 and mAP50 are COCO's AP (stats[0], stats[1] of our pycocotools-equal evaluation) on
exactly the images added, so they equal what pycocotools reports on the JSON files that
`to_coco_json` writes (up to the rounding of the written boxes).

Ignored ground truth (VOC difficult / COCO crowd boxes under difficult=ignore) is evaluated as
COCO crowd regions (iscrowd=1): a detection on one counts neither as a true nor a false positive,
and it is not an object to find.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from turboyolo.metrics.coco_eval import (
    RECALL_THRESHOLDS, CocoDetections, CocoGroundTruth, CocoResult, evaluate,
)
from turboyolo.metrics.coco_json import ground_truth_to_coco, predictions_to_coco, write_json
from turboyolo.metrics.confusion import ConfusionMatrix

CONFIDENCE_GRID = np.linspace(0.0, 1.0, 1000)  # where P, R and F1 curves are sampled


class ImageEntry(NamedTuple):
    """What was added for one image: boxes (N, 4) xyxy px, classes (N,), dets (M, 6), and the
    ignored ground truth ignored_boxes (K, 4) xyxy px, ignored_classes (K,)."""

    boxes: np.ndarray
    classes: np.ndarray
    dets: np.ndarray
    ignored_boxes: np.ndarray
    ignored_classes: np.ndarray


class DetectionEvaluator:
    """Collects ground truth and detections image by image; compute() returns all metrics.

    Picklable (plain numpy lists), and `merge` adds another evaluator's images, so that ranks of a
    distributed validation can gather their evaluators and merge them on rank 0.
    """

    def __init__(self, names: list[str], confusion_conf: float = 0.25, confusion_iou: float = 0.45):
        self.names = list(names)
        self.images: dict[int, ImageEntry] = {}
        self.confusion = ConfusionMatrix(len(self.names), confusion_conf, confusion_iou)

    def add(self, image_ids, gt_boxes, gt_classes, dets, ignored_boxes=None, ignored_classes=None) -> None:
        """image_ids: list[int]; gt_boxes: list of (N, 4) xyxy px of the original image;
        gt_classes: list of (N,) ints; dets: list of (M, 6) x1, y1, x2, y2, score, class (same frame).
        ignored_boxes, ignored_classes: optional lists of (K, 4) xyxy px and (K,) ints per image:
        ground truth the metric ignores (ImageRecord.ignored_boxes).
        An image id seen before is skipped (distributed samplers pad with repeats)."""
        none = [None] * len(image_ids)
        for image_id, boxes, classes, image_dets, skip_boxes, skip_classes in zip(
                image_ids, gt_boxes, gt_classes, dets, ignored_boxes or none, ignored_classes or none):
            image_id = int(image_id)
            if image_id in self.images:
                continue
            self._store(image_id, ImageEntry(
                np.asarray(boxes, dtype=np.float64).reshape(-1, 4), np.asarray(classes, dtype=np.int64).reshape(-1),
                np.asarray(image_dets, dtype=np.float64).reshape(-1, 6),
                np.asarray([] if skip_boxes is None else skip_boxes, dtype=np.float64).reshape(-1, 4),
                np.asarray([] if skip_classes is None else skip_classes, dtype=np.int64).reshape(-1)))

    def _store(self, image_id: int, entry: ImageEntry) -> None:
        self.images[image_id] = entry
        self.confusion.add_image(entry.boxes, entry.classes, entry.dets, entry.ignored_boxes)

    # ---- COCO ------------------------------------------------------------------------------------
    def coco_arrays(self) -> tuple[CocoGroundTruth, CocoDetections]:
        """Everything added, as the arrays our COCO evaluation takes (category id = class index)."""
        image_ids = np.array(sorted(self.images), dtype=np.int64)
        entries = [self.images[i] for i in image_ids.tolist()]
        # Per image: the ordinary ground truth, then the ignored one (as COCO crowd regions).
        gt_xyxy, gt_classes, gt_crowd = [], [], []
        for e in entries:
            gt_xyxy += [e.boxes, e.ignored_boxes]
            gt_classes += [e.classes, e.ignored_classes]
            gt_crowd += [np.zeros(len(e.classes), bool), np.ones(len(e.ignored_classes), bool)]
        gt_counts = np.array([len(e.classes) + len(e.ignored_classes) for e in entries], dtype=np.int64)
        det_counts = np.array([len(e.dets) for e in entries], dtype=np.int64)
        gt_xyxy = np.concatenate(gt_xyxy) if entries else np.zeros((0, 4))
        dets = np.concatenate([e.dets for e in entries]) if entries else np.zeros((0, 6))
        gt_xywh = np.concatenate([gt_xyxy[:, :2], gt_xyxy[:, 2:] - gt_xyxy[:, :2]], 1)
        gt = CocoGroundTruth(
            image_ids=image_ids,
            category_ids=np.arange(len(self.names), dtype=np.int64),
            image=np.repeat(np.arange(len(image_ids)), gt_counts),
            category=np.concatenate(gt_classes) if entries else np.zeros(0, dtype=np.int64),
            boxes=gt_xywh,
            area=gt_xywh[:, 2] * gt_xywh[:, 3],
            crowd=np.concatenate(gt_crowd) if entries else np.zeros(0, dtype=bool),
            ann_id=np.arange(1, len(gt_xywh) + 1),  # id 0 would count as "no match" in COCO
        )
        classes = dets[:, 5].astype(np.int64)
        known = (classes >= 0) & (classes < len(self.names))
        detections = CocoDetections(
            image=np.repeat(np.arange(len(image_ids)), det_counts)[known],
            category=classes[known],
            boxes=np.concatenate([dets[:, :2], dets[:, 2:4] - dets[:, :2]], 1)[known],
            scores=dets[known, 4],
        )
        return gt, detections

    def to_coco_json(self, gt_path, predictions_path) -> None:
        """Write the added ground truth and predictions as COCO JSON files (category id = class index)."""
        image_ids = sorted(self.images)
        entries = [self.images[i] for i in image_ids]
        boxes = [np.concatenate([e.boxes, e.ignored_boxes]) for e in entries]
        classes = [np.concatenate([e.classes, e.ignored_classes]) for e in entries]
        crowd = [np.arange(len(c)) >= len(e.classes) for c, e in zip(classes, entries)]
        write_json(gt_path, ground_truth_to_coco(image_ids, boxes, classes, self.names, gt_crowd=crowd))
        write_json(predictions_path, predictions_to_coco(image_ids, [e.dets for e in entries]))

    # ---- metrics ---------------------------------------------------------------------------------
    def compute(self) -> dict:
        """All metrics. Scalars are floats; 'curves' and 'confusion_matrix' hold numpy arrays.

        precision/recall: mean over classes with ground truth at the confidence that maximises their
        mean F1 at IoU 0.5. mAP50 / mAP50-95: COCO AP (0.0 instead of COCO's -1 when there is no
        ground truth at all). Per-class AP is -1 for a class without ground truth (COCO's convention).
        """
        gt, dets = self.coco_arrays()
        result = evaluate(gt, dets)
        num_classes = len(self.names)
        counted = ~gt.crowd  # ignored ground truth is no object to find
        instances = np.bincount(gt.category[counted], minlength=num_classes)
        images_with = (np.bincount(np.unique(gt.image[counted] * num_classes + gt.category[counted]) % max(num_classes, 1),
                                   minlength=num_classes) if counted.any() else np.zeros(num_classes, np.int64))
        precision_curve, recall_curve = _confidence_curves(result, dets, instances)
        f1_curve = 2 * precision_curve * recall_curve / np.maximum(precision_curve + recall_curve, 1e-16)
        has_gt = instances > 0
        mean_f1 = f1_curve[has_gt].mean(0) if has_gt.any() else np.zeros(len(CONFIDENCE_GRID))
        best = int(mean_f1.argmax())
        class_precision, class_recall = precision_curve[:, best], recall_curve[:, best]
        ap50, ap50_95 = result.class_ap(iou_index=0), result.class_ap()
        per_class = [
            {"name": name, "images": int(images_with[k]), "instances": int(instances[k]),
             "precision": float(class_precision[k]), "recall": float(class_recall[k]),
             "ap50": float(ap50[k]), "ap50_95": float(ap50_95[k])}
            for k, name in enumerate(self.names)
        ]
        return {
            "precision": float(class_precision[has_gt].mean()) if has_gt.any() else 0.0,
            "recall": float(class_recall[has_gt].mean()) if has_gt.any() else 0.0,
            "mAP50": max(float(result.stats[1]), 0.0),
            "mAP50-95": max(float(result.stats[0]), 0.0),
            "best_f1_confidence": float(CONFIDENCE_GRID[best]),
            "coco_stats": [float(v) for v in result.stats],
            "num_images": len(gt.image_ids),
            "num_instances": int(instances.sum()),
            "per_class": per_class,
            "confusion_matrix": self.confusion.matrix.copy(),
            "curves": {
                "recall": RECALL_THRESHOLDS.copy(),  # (101,) x axis of the PR curves
                "precision": result.precision[0, :, :, 0, -1].T.copy(),  # (K, 101) at IoU 0.5, -1: no gt
                "ap50": ap50,
                "confidence": CONFIDENCE_GRID.copy(),  # (C,) x axis of the P/R/F1 curves
                "precision_at_confidence": precision_curve,  # (K, C)
                "recall_at_confidence": recall_curve,  # (K, C)
                "f1_at_confidence": f1_curve,  # (K, C)
            },
        }


def _confidence_curves(result: CocoResult, dets: CocoDetections, instances: np.ndarray):
    """Per class, precision and recall at IoU 0.5 of the detections scoring > each CONFIDENCE_GRID
    value -> two (K, C) arrays. Uses COCO's matches (the first 100 detections per image and class);
    precision is 0 where a class has no detection above the confidence."""
    num_classes, num_conf = len(instances), len(CONFIDENCE_GRID)
    precision = np.zeros((num_classes, num_conf))
    recall = np.zeros((num_classes, num_conf))
    counted = ~result.det_ignored[0, 0]
    true_positive = result.det_matched[0, 0][counted]
    category = dets.category[result.det_index][counted]
    scores = dets.scores[result.det_index][counted]
    for k in range(num_classes):  # a loop over classes, not detections
        mine = category == k
        order = np.argsort(-scores[mine], kind="stable")
        class_scores, class_tp = scores[mine][order], true_positive[mine][order]
        tp_cumulative = np.concatenate([[0], np.cumsum(class_tp)])
        above = np.searchsorted(-class_scores, -CONFIDENCE_GRID, side="left")  # how many score > conf
        tp = tp_cumulative[above]
        precision[k] = np.divide(tp, above, out=np.zeros(num_conf), where=above > 0)
        recall[k] = tp / instances[k] if instances[k] else 0.0
    return precision, recall
