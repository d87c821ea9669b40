"""DetectionEvaluator: COCO mAP on what was added, P/R at best F1, per-class table, JSON export."""
import numpy as np
import pytest

from coco_cases import pycocotools_eval
from turboyolo.metrics.coco_eval import evaluate_coco, read_coco_files
from turboyolo.metrics.coco_json import ground_truth_to_coco, predictions_to_coco
from turboyolo.metrics.detection import DetectionEvaluator


def random_batches(seed, num_images=24, num_classes=4):
    """Per-image arrays as the validator produces them: xyxy px, classes, (M, 6) detections."""
    rng = np.random.default_rng(seed)
    image_ids, gt_boxes, gt_classes, dets = [], [], [], []
    for i in range(num_images):
        n = int(rng.integers(0, 6))
        xy = rng.uniform(0, 300, (n, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(4, 120, (n, 2))], 1)
        classes = rng.integers(0, num_classes - 1, n)  # the last class never appears in the ground truth
        keep = rng.random(n) < 0.8
        noisy = boxes[keep] + rng.normal(0, 4, (keep.sum(), 4))
        det_classes = np.where(rng.random(keep.sum()) < 0.9, classes[keep], rng.integers(0, num_classes, keep.sum()))
        false_xy = rng.uniform(0, 300, (2, 2))
        false_boxes = np.concatenate([false_xy, false_xy + 30], 1)
        image_dets = np.concatenate([
            np.column_stack([noisy, rng.uniform(0.3, 1.0, keep.sum()), det_classes]),
            np.column_stack([false_boxes, rng.uniform(0.0, 0.5, 2), rng.integers(0, num_classes, 2)]),
        ])
        image_ids.append(100 + i)
        gt_boxes.append(boxes)
        gt_classes.append(classes)
        dets.append(image_dets)
    return image_ids, gt_boxes, gt_classes, dets


def test_map_is_pycocotools_ap_on_the_same_images():
    names = ["a", "b", "c", "d"]
    image_ids, gt_boxes, gt_classes, dets = random_batches(0)
    evaluator = DetectionEvaluator(names)
    for start in range(0, len(image_ids), 5):  # the validator adds batch by batch
        part = slice(start, start + 5)
        evaluator.add(image_ids[part], gt_boxes[part], gt_classes[part], dets[part])
    evaluator.add(image_ids[:3], gt_boxes[:3], gt_classes[:3], dets[:3])  # repeats are ignored
    metrics = evaluator.compute()
    reference = pycocotools_eval(
        ground_truth_to_coco(image_ids, gt_boxes, gt_classes, names),
        predictions_to_coco(image_ids, dets, decimals=None),
    )
    assert metrics["mAP50-95"] == pytest.approx(reference.stats[0], abs=1e-6)
    assert metrics["mAP50"] == pytest.approx(reference.stats[1], abs=1e-6)
    assert metrics["num_images"] == len(image_ids)
    assert metrics["num_instances"] == sum(len(c) for c in gt_classes)
    table = metrics["per_class"]
    assert [row["name"] for row in table] == names
    assert table[3]["instances"] == 0 and table[3]["ap50"] == -1  # COCO convention: no ground truth
    assert 0 < metrics["precision"] <= 1 and 0 < metrics["recall"] <= 1
    curves = metrics["curves"]
    assert curves["precision"].shape == (4, 101) and curves["f1_at_confidence"].shape[0] == 4
    assert metrics["confusion_matrix"].shape == (5, 5)


def test_perfect_detections_score_one():
    image_ids, gt_boxes, gt_classes, _ = random_batches(1)
    perfect = [np.column_stack([b, np.ones(len(b)), c]) for b, c in zip(gt_boxes, gt_classes)]
    evaluator = DetectionEvaluator(["a", "b", "c", "d"])
    evaluator.add(image_ids, gt_boxes, gt_classes, perfect)
    metrics = evaluator.compute()
    assert metrics["mAP50-95"] == pytest.approx(1.0) and metrics["mAP50"] == pytest.approx(1.0)
    assert metrics["precision"] == pytest.approx(1.0) and metrics["recall"] == pytest.approx(1.0)
    matrix = metrics["confusion_matrix"]
    assert np.trace(matrix) == matrix.sum()


def test_no_images_and_no_detections():
    empty = DetectionEvaluator(["a"]).compute()
    assert empty["mAP50-95"] == 0.0 and empty["num_images"] == 0
    evaluator = DetectionEvaluator(["a", "b"])
    evaluator.add([1], [np.array([[0, 0, 10, 10.0]])], [np.array([1])], [np.zeros((0, 6))])
    metrics = evaluator.compute()
    assert metrics["mAP50"] == 0.0 and metrics["recall"] == 0.0


def test_to_coco_json_round_trip(tmp_path):
    image_ids, gt_boxes, gt_classes, dets = random_batches(3)
    evaluator = DetectionEvaluator(["a", "b", "c", "d"])
    evaluator.add(image_ids, gt_boxes, gt_classes, dets)
    evaluator.to_coco_json(tmp_path / "gt.json", tmp_path / "predictions.json")
    from_files = evaluate_coco(*read_coco_files(str(tmp_path / "gt.json"), str(tmp_path / "predictions.json")))
    np.testing.assert_allclose(from_files.stats, evaluator.compute()["coco_stats"], atol=2e-3)  # boxes rounded to 1e-3 px


def test_ignored_ground_truth_is_neither_found_nor_missed():
    """VOC difficult / COCO crowd boxes: a detection on one is neither TP nor FP, a missed one no miss."""
    regular, difficult_found, difficult_missed = [10, 10, 50, 50.0], [100, 100, 160, 150.0], [200, 20, 260, 90.0]
    dets = np.array([difficult_found + [0.9, 0], regular + [0.6, 0]])
    evaluator = DetectionEvaluator(["a", "b"])
    evaluator.add([7], [np.array([regular])], [np.array([0])], [dets],
                  ignored_boxes=[np.array([difficult_found, difficult_missed])], ignored_classes=[np.array([0, 0])])
    metrics = evaluator.compute()
    assert metrics["mAP50"] == pytest.approx(1.0) and metrics["mAP50-95"] == pytest.approx(1.0)
    assert metrics["precision"] == pytest.approx(1.0) and metrics["recall"] == pytest.approx(1.0)
    assert metrics["num_instances"] == 1 and metrics["per_class"][0]["instances"] == 1
    assert metrics["confusion_matrix"][0, 2] == 0  # the detection on the difficult box is no false positive


def test_ignored_ground_truth_scores_as_pycocotools_crowd_and_round_trips_through_json(tmp_path):
    names = ["a", "b", "c", "d"]
    image_ids, gt_boxes, gt_classes, dets = random_batches(5)
    rng = np.random.default_rng(5)
    crowd = [rng.random(len(c)) < 0.3 for c in gt_classes]
    evaluator = DetectionEvaluator(names)
    evaluator.add(image_ids, [b[~m] for b, m in zip(gt_boxes, crowd)], [c[~m] for c, m in zip(gt_classes, crowd)], dets,
                  ignored_boxes=[b[m] for b, m in zip(gt_boxes, crowd)], ignored_classes=[c[m] for c, m in zip(gt_classes, crowd)])
    ours = evaluator.compute()["coco_stats"]
    order = [np.argsort(m, kind="stable") for m in crowd]  # ordinary boxes first, as the evaluator keeps them
    reference = pycocotools_eval(
        ground_truth_to_coco(image_ids, [b[o] for b, o in zip(gt_boxes, order)], [c[o] for c, o in zip(gt_classes, order)],
                             names, gt_crowd=[m[o] for m, o in zip(crowd, order)]),
        predictions_to_coco(image_ids, dets, decimals=None),
    )
    assert sum(m.sum() for m in crowd) > 5
    np.testing.assert_allclose(ours, reference.stats, atol=1e-6)
    evaluator.to_coco_json(tmp_path / "gt.json", tmp_path / "predictions.json")
    from_files = evaluate_coco(*read_coco_files(str(tmp_path / "gt.json"), str(tmp_path / "predictions.json")))
    np.testing.assert_allclose(from_files.stats, ours, atol=2e-3)  # boxes rounded to 1e-3 px
