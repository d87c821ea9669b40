"""Ground truth and predictions as COCO JSON (for save_json=True and for `turboyolo eval-coco`).

Our arrays are xyxy pixels of the original image with class indices 0..nc-1; COCO wants
[x, y, width, height] and category ids. By default category id = class index, so that the
files written here evaluate to the same numbers as our in-memory evaluation.

`write_val_predictions` is what validation writes for save_json=True: files that
`turboyolo eval-coco gt=... pred=...` scores to val's own numbers.
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
    box coordinates (file size); None keeps them exact. Scores are written exactly: rounded, a young
    model's near-equal scores tie and re-order (measured: mAP50 off by 3e-3 at 5 decimals).
    """
    results = []
    for image_id, image_dets in zip(image_ids, dets):
        image_dets = np.asarray(image_dets, dtype=np.float64).reshape(-1, 6)
        classes = image_dets[:, 5].astype(np.int64)
        if category_ids is not None:
            classes = np.asarray(category_ids, dtype=np.int64)[classes]
        boxes, scores = _xywh(image_dets[:, :4]), image_dets[:, 4]
        if decimals is not None:
            boxes = boxes.round(decimals)
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


PREDICTIONS_FILE = "predictions.json"
GROUND_TRUTH_FILE = "ground_truth.json"


def write_val_predictions(folder, image_ids, dets, gt_boxes, gt_classes, names, category_ids=None,
                          image_sizes=None, file_names=None) -> dict[str, Path]:
    """Write folder/predictions.json (COCO results) that scores like val; returns {"pred": ..., "gt": ...}.

    category_ids (class index -> the dataset's category id) is given when the data came from a COCO
    file: image ids are then that file's own (the records keep them), so the predictions score
    against its instances_*.json directly and no ground truth is written ("gt" is None). Otherwise
    (YOLO, VOC) category id = class index and image id = the record's index in its split, and the
    matching ground truth is written next to the predictions as ground_truth.json.
    """
    folder = Path(folder)
    pred = write_json(folder / PREDICTIONS_FILE, predictions_to_coco(image_ids, dets, category_ids))
    if category_ids is not None:
        (folder / GROUND_TRUTH_FILE).unlink(missing_ok=True)  # an earlier run's would not match these ids
        return {"pred": pred, "gt": None}
    gt = write_json(folder / GROUND_TRUTH_FILE,
                    ground_truth_to_coco(image_ids, gt_boxes, gt_classes, names, image_sizes, file_names))
    return {"pred": pred, "gt": gt}
