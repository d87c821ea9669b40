"""Ground truth and predictions as COCO JSON (for save_json=True and for `turboyolo eval-coco`).

Our arrays are xyxy pixels of the original image with class indices 0..nc-1; COCO wants
[x, y, width, height] and category ids. By default category id = class index, so that the
files written here evaluate to the same numbers as our in-memory evaluation.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _xywh(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1)


def predictions_to_coco(image_ids, dets, category_ids=None, decimals: int | None = 3) -> list[dict]:
    """image_ids: list[int]; dets: list of (M, 6) xyxy, score, class -> COCO results list.

    category_ids: optional sequence mapping class index -> COCO category id. decimals: rounding of
    box coordinates (file size); None keeps them exact.
    """
    results = []
    for image_id, image_dets in zip(image_ids, dets):
        image_dets = np.asarray(image_dets, dtype=np.float64).reshape(-1, 6)
        classes = image_dets[:, 5].astype(np.int64)
        if category_ids is not None:
            classes = np.asarray(category_ids, dtype=np.int64)[classes]
        boxes, scores = _xywh(image_dets[:, :4]), image_dets[:, 4]
        if decimals is not None:
            boxes, scores = boxes.round(decimals), scores.round(decimals + 2)
        for box, score, category in zip(boxes.tolist(), scores.tolist(), classes.tolist()):
            results.append({"image_id": int(image_id), "category_id": category, "bbox": box, "score": score})
    return results


def ground_truth_to_coco(image_ids, gt_boxes, gt_classes, names, image_sizes=None, file_names=None,
                         gt_crowd=None) -> dict:
    """Ground truth lists (boxes (N, 4) xyxy px, classes (N,)) -> COCO annotation dict.

    area = box width * height (we have no masks); annotation ids start at 1 (COCO treats 0 as
    "no match"). image_sizes: optional list of (width, height). gt_crowd: optional list of (N,)
    bools, written as iscrowd (ground truth the evaluation ignores).
    """
    images, annotations = [], []
    for i, (image_id, boxes, classes) in enumerate(zip(image_ids, gt_boxes, gt_classes)):
        image = {"id": int(image_id)}
        if image_sizes is not None:
            image["width"], image["height"] = (int(v) for v in image_sizes[i])
        if file_names is not None:
            image["file_name"] = str(file_names[i])
        images.append(image)
        xywh = _xywh(boxes)
        crowd = np.zeros(len(xywh), bool) if gt_crowd is None else np.asarray(gt_crowd[i], bool).reshape(-1)
        for box, category, is_crowd in zip(xywh.tolist(), np.asarray(classes, dtype=np.int64).reshape(-1).tolist(),
                                           crowd.tolist()):
            annotations.append({"id": len(annotations) + 1, "image_id": int(image_id), "category_id": category,
                                "bbox": box, "area": box[2] * box[3], "iscrowd": int(is_crowd)})
    categories = [{"id": i, "name": name} for i, name in enumerate(names)]
    return {"images": images, "annotations": annotations, "categories": categories}


def write_json(path, obj) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path
