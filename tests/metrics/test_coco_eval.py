"""Our COCO evaluation must give pycocotools' numbers on any valid input."""
import numpy as np
import pytest

from coco_cases import pycocotools_eval, random_case, realistic_case
from turboyolo.metrics.coco_eval import STAT_NAMES, evaluate_coco

pytest.importorskip("pycocotools")


def assert_same_as_pycocotools(gt_dataset, results):
    ours = evaluate_coco(gt_dataset, results)
    reference = pycocotools_eval(gt_dataset, results)
    np.testing.assert_allclose(ours.stats, reference.stats, atol=1e-4, err_msg=str(STAT_NAMES))
    # the full tables too, so that a bug cannot hide behind an average
    np.testing.assert_allclose(ours.precision, reference.eval["precision"], atol=1e-9)
    np.testing.assert_allclose(ours.recall, reference.eval["recall"], atol=1e-9)
    return ours


@pytest.mark.parametrize("seed", range(8))
def test_random_cases_match_pycocotools(seed):
    gt_dataset, results = random_case(seed)
    assert_same_as_pycocotools(gt_dataset, results)


def test_realistic_case_matches_pycocotools():
    gt_dataset, results = realistic_case(seed=3, num_images=60, boxes_per_image=12, num_categories=8)
    ours = assert_same_as_pycocotools(gt_dataset, results)
    assert 0.2 < ours.stats[0] < 0.9  # sanity: a decent detector


def test_ground_truth_id_zero_quirk():
    # pycocotools stores the matched gt id and tests it for truth: a match to id 0 is a false positive
    gt_dataset = {
        "images": [{"id": 1}], "categories": [{"id": 1}],
        "annotations": [
            {"id": 0, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [50, 50, 10, 10], "area": 100, "iscrowd": 0},
        ],
    }
    results = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
               {"image_id": 1, "category_id": 1, "bbox": [50, 50, 10, 10], "score": 0.8}]
    assert_same_as_pycocotools(gt_dataset, results)


def test_perfect_and_empty_detections():
    gt_dataset, results = random_case(0)
    perfect = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
               for a in gt_dataset["annotations"]]
    assert_same_as_pycocotools(gt_dataset, perfect)
    # pycocotools cannot load an empty result list; we report zero AP/AR for classes with ground truth
    empty = evaluate_coco(gt_dataset, [])
    assert empty.stats[0] == 0 and empty.stats[8] == 0


def test_unknown_image_is_an_error():
    gt_dataset, results = random_case(1)
    results.append({"image_id": 10**6, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5})
    with pytest.raises(ValueError, match="not in the ground truth"):
        evaluate_coco(gt_dataset, results)
