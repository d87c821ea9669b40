"""Confusion matrix: rows predicted class, columns true class, last index background."""
import numpy as np

from turboyolo.metrics.confusion import ConfusionMatrix, greedy_pairs


def test_hits_misses_false_positives_and_confusions():
    matrix = ConfusionMatrix(num_classes=2)
    gt_boxes = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60.0]])
    gt_classes = np.array([0, 1, 1])
    dets = np.array([
        [0, 0, 10, 10, 0.9, 0],  # correct class 0
        [20, 20, 30, 31, 0.8, 0],  # a class-1 object called class 0
        [80, 80, 90, 90, 0.7, 1],  # nothing there
        [50, 50, 60, 60, 0.1, 1],  # below the confidence threshold: the object counts as missed
    ])
    matrix.add_image(gt_boxes, gt_classes, dets)
    expected = np.array([
        [1, 1, 0],
        [0, 0, 1],
        [0, 1, 0],
    ])
    np.testing.assert_array_equal(matrix.matrix, expected)


def test_greedy_pairs_is_highest_iou_first_one_to_one():
    iou = np.array([
        [0.9, 0.8, 0.0],
        [0.85, 0.6, 0.0],
        [0.0, 0.55, 0.5],
    ])
    rows, cols = greedy_pairs(iou, 0.45)
    assert sorted(zip(rows.tolist(), cols.tolist())) == [(0, 0), (1, 1), (2, 2)]
    rows, cols = greedy_pairs(np.zeros((0, 3)), 0.45)
    assert rows.size == 0
