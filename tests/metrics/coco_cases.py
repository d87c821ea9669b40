"""Random and realistic COCO ground truth / detections for comparing against pycocotools."""
from __future__ import annotations

import contextlib
import copy
import io

import numpy as np


def random_case(seed: int, num_images: int = 30, num_categories: int = 5, dets_per_gt: float = 1.5):
    """COCO dicts with the awkward parts: crowd boxes, 'ignore' keys, empty images, images without
    detections, a category without ground truth, a category unknown to the ground truth, score
    ties, tiny/huge boxes around the area-range limits, and an image with > 100 detections."""
    rng = np.random.default_rng(seed)
    images = [{"id": int(i), "width": 640, "height": 480} for i in rng.permutation(np.arange(1, num_images + 1) * 3)]
    categories = [{"id": int(c), "name": f"c{c}"} for c in (1, 2, 3, 5, 7, 9)[:num_categories]]
    gt_categories = [c["id"] for c in categories[:-1]]  # the last category has no ground truth
    annotations, results = [], []
    ann_id = 1
    for image in images:
        n = int(rng.choice([0, 1, 3, 6, 12], p=[0.15, 0.2, 0.3, 0.25, 0.1]))
        for _ in range(n):
            side = float(rng.choice([8.0, 31.0, 32.0, 60.0, 96.0, 150.0]) * rng.uniform(0.7, 1.3))
            w, h = side * rng.uniform(0.5, 1.5), side * rng.uniform(0.5, 1.5)
            x, y = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
            ann = {
                "id": ann_id, "image_id": image["id"], "category_id": int(rng.choice(gt_categories)),
                "bbox": [x, y, w, h], "area": float(w * h * rng.uniform(0.6, 1.0)),
                "iscrowd": int(rng.random() < 0.1),
            }
            if rng.random() < 0.1:
                ann["ignore"] = int(rng.random() < 0.5)  # pycocotools overwrites this with iscrowd
            annotations.append(ann)
            ann_id += 1
            if rng.random() < 0.2:
                continue  # a missed object
            for _ in range(rng.poisson(dets_per_gt)):
                jitter = rng.normal(0, 0.15 * side, 4)
                category = ann["category_id"] if rng.random() < 0.85 else int(rng.choice([c["id"] for c in categories]))
                results.append({
                    "image_id": image["id"], "category_id": category,
                    "bbox": [x + jitter[0], y + jitter[1], max(1.0, w + jitter[2]), max(1.0, h + jitter[3])],
                    "score": float(np.round(rng.random(), 2)),  # rounding makes ties
                })
        if rng.random() < 0.3:  # background false positives, also on images without ground truth
            for _ in range(int(rng.integers(1, 5))):
                w, h = rng.uniform(5, 200, 2)
                results.append({
                    "image_id": image["id"], "category_id": int(rng.choice([c["id"] for c in categories] + [11])),
                    "bbox": [float(rng.uniform(0, 500)), float(rng.uniform(0, 400)), float(w), float(h)],
                    "score": float(np.round(rng.random(), 2)),
                })
    crowded = images[0]["id"]  # more than maxDets detections of one class in one image
    for i in range(130):
        results.append({"image_id": crowded, "category_id": gt_categories[0],
                        "bbox": [float(i % 40) * 10, float(i // 40) * 20, 30.0, 30.0], "score": float(rng.random())})
    rng.shuffle(results)
    return {"images": images, "annotations": annotations, "categories": categories}, results


def realistic_case(seed: int = 0, num_images: int = 500, boxes_per_image: int = 20, num_categories: int = 20):
    """A synthetic 'trained detector' on a COCO-like set: mostly good detections with noisy boxes,
    scores that correlate with quality, a tail of low-score false positives."""
    rng = np.random.default_rng(seed)
    images = [{"id": i + 1, "width": 640, "height": 640} for i in range(num_images)]
    categories = [{"id": c + 1, "name": f"class{c}"} for c in range(num_categories)]
    annotations, results = [], []
    for image in images:
        sizes = np.exp(rng.uniform(np.log(6), np.log(300), boxes_per_image))
        for size in sizes:
            w, h = size * rng.uniform(0.6, 1.4), size * rng.uniform(0.6, 1.4)
            x, y = rng.uniform(0, 640 - min(w, 600)), rng.uniform(0, 640 - min(h, 600))
            category = int(rng.integers(1, num_categories + 1))
            annotations.append({"id": len(annotations) + 1, "image_id": image["id"], "category_id": category,
                                "bbox": [x, y, w, h], "area": w * h * 0.8, "iscrowd": int(rng.random() < 0.01)})
            if rng.random() < 0.9:
                noise = rng.normal(0, 0.1, 4) * [w, h, w, h]
                quality = float(np.exp(-np.abs(noise).sum() / (w + h)))
                results.append({"image_id": image["id"], "category_id": category,
                                "bbox": [x + noise[0], y + noise[1], max(1.0, w + noise[2]), max(1.0, h + noise[3])],
                                "score": float(np.clip(quality * rng.uniform(0.5, 1.0), 0.001, 1))})
        for _ in range(boxes_per_image // 2):
            w, h = rng.uniform(5, 200, 2)
            results.append({"image_id": image["id"], "category_id": int(rng.integers(1, num_categories + 1)),
                            "bbox": [float(rng.uniform(0, 600)), float(rng.uniform(0, 600)), float(w), float(h)],
                            "score": float(rng.uniform(0.001, 0.4))})
    return {"images": images, "annotations": annotations, "categories": categories}, results


def pycocotools_eval(gt_dataset: dict, results: list[dict]):
    """COCOeval('bbox') on in-memory dicts, silenced; returns the finished COCOeval object."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt_dataset)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(results))
        evaluator = COCOeval(coco_gt, coco_dt, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator
