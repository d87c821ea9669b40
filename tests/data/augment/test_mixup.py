import numpy as np
import pytest

from turboyolo.data.augment.mixup import mixup


def test_mixup_blends_pixels_and_keeps_all_boxes():
    a = (np.zeros((8, 8, 3), np.uint8), np.array([[0, 0, 2, 2]], np.float32), np.array([0]))
    b = (np.full((8, 8, 3), 200, np.uint8), np.array([[4, 4, 8, 8]], np.float32), np.array([1]))
    image, boxes, classes = mixup(a, b, np.random.default_rng(0))
    assert 60 < image.mean() < 140
    assert boxes.shape == (2, 4) and classes.tolist() == [0, 1]


def test_mixup_rejects_different_shapes():
    a = (np.zeros((8, 8, 3), np.uint8), np.zeros((0, 4), np.float32), np.zeros(0, int))
    b = (np.zeros((8, 9, 3), np.uint8), np.zeros((0, 4), np.float32), np.zeros(0, int))
    with pytest.raises(ValueError):
        mixup(a, b, np.random.default_rng(0))
