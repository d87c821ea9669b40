"""COCO box metrics (AP/AR, 101-point interpolation), equal to pycocotools' COCOeval('bbox').

Same definitions, same quirks, vectorised with numpy:
- ground truths: area from the annotation's 'area' field; ignored when iscrowd (pycocotools
  overwrites any 'ignore' key with iscrowd, and so do we) or when the area is outside the
  range; a crowd ground truth is matched by intersection over the detection's area and may
  absorb any number of detections;
- detections: area = w * h (as COCO.loadRes), sorted by score with a stable sort, at most
  maxDets[-1] per (image, class); unmatched ones outside the area range are ignored;
- a detection matched to a ground truth whose id is 0 counts as unmatched (pycocotools stores
  the id and tests it for truth);
- per class: detections of all images ordered by score (ties: image id, then rank), precision
  made monotone, read at 101 recall points; -1 where a class has no regular ground truth.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from turboyolo.metrics.coco_match import match_detections

IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1)
MAX_DETS = (1, 10, 100)
AREA_RANGES = {"all": (0, 1e5**2), "small": (0, 32**2), "medium": (32**2, 96**2), "large": (96**2, 1e5**2)}
STAT_NAMES = (
    "AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
    "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large",
)


@dataclass
class CocoGroundTruth:
    """Ground truth as arrays; annotations keep file order (it decides ties, as in pycocotools)."""

    image_ids: np.ndarray  # (I,) int64, sorted unique COCO image ids
    category_ids: np.ndarray  # (K,) int64, sorted unique COCO category ids
    image: np.ndarray  # (N,) int64 index into image_ids
    category: np.ndarray  # (N,) int64 index into category_ids
    boxes: np.ndarray  # (N, 4) float64 x, y, w, h pixels
    area: np.ndarray  # (N,) float64 pixels^2 (the annotation's 'area')
    crowd: np.ndarray  # (N,) bool
    ann_id: np.ndarray  # (N,) int64 annotation ids


@dataclass
class CocoDetections:
    image: np.ndarray  # (M,) int64 index into CocoGroundTruth.image_ids
    category: np.ndarray  # (M,) int64 index into CocoGroundTruth.category_ids
    boxes: np.ndarray  # (M, 4) float64 x, y, w, h pixels
    scores: np.ndarray  # (M,) float64


@dataclass
class CocoResult:
    stats: np.ndarray  # (12,) in STAT_NAMES order (pycocotools' summarize order)
    precision: np.ndarray  # (T, R, K, A, M) interpolated precision, -1 where undefined
    recall: np.ndarray  # (T, K, A, M) final recall, -1 where undefined
    category_ids: np.ndarray  # (K,)
    # per evaluated detection (the first maxDets[-1] of each image and class):
    det_index: np.ndarray = field(repr=False)  # (E,) index into the CocoDetections arrays
    det_matched: np.ndarray = field(repr=False)  # (A, T, E) bool: true positive candidate
    det_ignored: np.ndarray = field(repr=False)  # (A, T, E) bool: left out of the counts

    def class_ap(self, iou_index: int | None = None) -> np.ndarray:
        """(K,) AP per class over all areas at maxDets 100 (all thresholds or one); -1 if no gt."""
        p = self.precision[:, :, :, 0, -1] if iou_index is None else self.precision[iou_index : iou_index + 1, :, :, 0, -1]
        valid = p > -1
        total = np.where(valid, p, 0).sum((0, 1))
        count = valid.sum((0, 1))
        return np.where(count > 0, total / np.maximum(count, 1), -1.0)

    def as_dict(self) -> dict:
        return {name: float(v) for name, v in zip(STAT_NAMES, self.stats)}


def ground_truth_from_coco(dataset: dict) -> CocoGroundTruth:
    """A COCO annotation dict (images, annotations, categories) -> CocoGroundTruth."""
    image_ids = np.unique(np.array([img["id"] for img in dataset.get("images", [])], dtype=np.int64))
    category_ids = np.unique(np.array([cat["id"] for cat in dataset.get("categories", [])], dtype=np.int64))
    anns = [a for a in dataset.get("annotations", [])]
    ann_image = np.array([a["image_id"] for a in anns], dtype=np.int64)
    ann_category = np.array([a["category_id"] for a in anns], dtype=np.int64)
    keep = _is_member(ann_image, image_ids) & _is_member(ann_category, category_ids)
    anns = [a for a, k in zip(anns, keep) if k]
    return CocoGroundTruth(
        image_ids=image_ids,
        category_ids=category_ids,
        image=np.searchsorted(image_ids, ann_image[keep]),
        category=np.searchsorted(category_ids, ann_category[keep]),
        boxes=np.array([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4),
        area=np.array([a["area"] for a in anns], dtype=np.float64),
        crowd=np.array([bool(a.get("iscrowd", 0)) for a in anns], dtype=bool),
        ann_id=np.array([a.get("id", 0) for a in anns], dtype=np.int64),
    )


def detections_from_coco(results: list[dict], gt: CocoGroundTruth) -> CocoDetections:
    """A COCO results list ({image_id, category_id, bbox, score}) -> CocoDetections.

    Detections of categories unknown to the ground truth are dropped (as pycocotools does);
    detections of unknown images are an error (pycocotools asserts).
    """
    image = np.array([r["image_id"] for r in results], dtype=np.int64)
    category = np.array([r["category_id"] for r in results], dtype=np.int64)
    unknown = ~_is_member(image, gt.image_ids)
    if unknown.any():
        raise ValueError(f"results refer to images not in the ground truth, e.g. image_id {image[unknown][0]}")
    keep = _is_member(category, gt.category_ids)
    return CocoDetections(
        image=np.searchsorted(gt.image_ids, image[keep]),
        category=np.searchsorted(gt.category_ids, category[keep]),
        boxes=np.array([r["bbox"] for r in results], dtype=np.float64).reshape(-1, 4)[keep],
        scores=np.array([r["score"] for r in results], dtype=np.float64)[keep],
    )


def _is_member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    if len(sorted_set) == 0:
        return np.zeros(len(values), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return sorted_set[pos] == values


def evaluate(gt: CocoGroundTruth, dets: CocoDetections) -> CocoResult:
    """Run the COCO box evaluation; see the module docstring for the exact rules."""
    num_categories, areas = len(gt.category_ids), np.array(list(AREA_RANGES.values()), dtype=np.float64)
    # detections by (image, class, score desc, file order), cut to maxDets[-1] per group
    order = np.lexsort((np.arange(len(dets.scores)), -dets.scores, dets.category, dets.image))
    group = dets.image[order] * num_categories + dets.category[order]
    rank = np.arange(len(order)) - np.searchsorted(group, group, side="left")
    keep = rank < MAX_DETS[-1]
    det_index, group, rank = order[keep], group[keep], rank[keep]

    gt_ignore = gt.crowd[None] | (gt.area[None] < areas[:, :1]) | (gt.area[None] > areas[:, 1:])  # (A, N)
    matched_gt = match_detections(
        group, dets.boxes[det_index], gt.image * num_categories + gt.category, gt.boxes, gt.crowd, gt_ignore,
        IOU_THRESHOLDS,
    )
    has_match = matched_gt >= 0
    safe = np.maximum(matched_gt, 0)
    matched = has_match & (gt.ann_id[safe] != 0)
    det_area = dets.boxes[det_index, 2] * dets.boxes[det_index, 3]
    det_outside = (det_area[None] < areas[:, :1]) | (det_area[None] > areas[:, 1:])  # (A, E)
    ignored = ~matched & det_outside[:, None, :]
    if len(gt.ann_id):  # a detection matched to an ignored ground truth is ignored too
        ignored |= has_match & gt_ignore[np.arange(len(areas))[:, None, None], safe]

    regular_gt = np.stack(
        [np.bincount(gt.category[~ignore_a], minlength=num_categories) for ignore_a in gt_ignore], axis=1
    )  # (K, A) ground truths that count for recall
    precision, recall = _accumulate(
        dets.category[det_index], dets.image[det_index], rank, dets.scores[det_index], matched, ignored, regular_gt
    )
    return CocoResult(
        stats=_summarize(precision, recall), precision=precision, recall=recall, category_ids=gt.category_ids,
        det_index=det_index, det_matched=matched, det_ignored=ignored,
    )


def _accumulate(category, image, rank, scores, matched, ignored, regular_gt):
    """Precision (T, R, K, A, M) and recall (T, K, A, M) as COCOeval.accumulate computes them."""
    num_t, num_r, (num_k, num_a), num_m = len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS), regular_gt.shape, len(MAX_DETS)
    precision = -np.ones((num_t, num_r, num_k, num_a, num_m))
    recall = -np.ones((num_t, num_k, num_a, num_m))
    by_category = np.argsort(category, kind="stable")
    starts = np.searchsorted(category[by_category], np.arange(num_k + 1))
    for k in range(num_k):
        members = by_category[starts[k] : starts[k + 1]]
        # pycocotools concatenates images in id order, each in rank order, then sorts by score (stable)
        members = members[np.lexsort((rank[members], image[members], -scores[members]))]
        for m, max_det in enumerate(MAX_DETS):
            sel = members[rank[members] < max_det]
            for a in range(num_a):
                if regular_gt[k, a] == 0:
                    continue
                tps = matched[a][:, sel] & ~ignored[a][:, sel]
                fps = ~matched[a][:, sel] & ~ignored[a][:, sel]
                tp_sum = np.cumsum(tps, axis=1).astype(np.float64)
                fp_sum = np.cumsum(fps, axis=1).astype(np.float64)
                num_dets = len(sel)
                rc = tp_sum / regular_gt[k, a]
                pr = tp_sum / (fp_sum + tp_sum + np.spacing(1))
                recall[:, k, a, m] = rc[:, -1] if num_dets else 0
                pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]  # precision envelope
                for t in range(num_t):
                    at = np.searchsorted(rc[t], RECALL_THRESHOLDS, side="left")
                    inside = at < num_dets
                    q = np.zeros(num_r)
                    q[inside] = pr[t, at[inside]]
                    precision[t, :, k, a, m] = q
    return precision, recall


def _summarize(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """The 12 numbers of COCOeval.summarize()."""
    area_index = {name: i for i, name in enumerate(AREA_RANGES)}

    def mean_valid(values):
        valid = values[values > -1]
        return float(np.mean(valid)) if valid.size else -1.0

    def ap(iou=None, area="all", max_det=100):
        p = precision if iou is None else precision[np.where(iou == IOU_THRESHOLDS)[0]]
        return mean_valid(p[:, :, :, area_index[area], MAX_DETS.index(max_det)])

    def ar(area="all", max_det=100):
        return mean_valid(recall[:, :, area_index[area], MAX_DETS.index(max_det)])

    return np.array([
        ap(), ap(iou=0.5), ap(iou=0.75), ap(area="small"), ap(area="medium"), ap(area="large"),
        ar(max_det=1), ar(max_det=10), ar(), ar(area="small"), ar(area="medium"), ar(area="large"),
    ])


def evaluate_coco(gt_dataset: dict, results: list[dict]) -> CocoResult:
    """COCO dicts in, CocoResult out (the pycocotools-compatible entry point)."""
    gt = ground_truth_from_coco(gt_dataset)
    return evaluate(gt, detections_from_coco(results, gt))


def read_coco_files(gt_path: str, results_path: str) -> tuple[dict, list]:
    """COCO ground-truth JSON file and results JSON file -> (ground-truth dataset, result list)."""
    with open(gt_path) as f:
        gt_dataset = json.load(f)
    with open(results_path) as f:
        results = json.load(f)
    if isinstance(results, dict) and "annotations" in results:  # a full COCO file as predictions
        results = results["annotations"]
    return gt_dataset, results
