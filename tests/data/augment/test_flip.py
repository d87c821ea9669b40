import numpy as np

from turboyolo.data.augment.flip import random_flip
from tests.data.loader_fixtures import bright_mask, mask_bbox, painted_image


def test_flips_move_boxes_with_pixels():
    box = np.array([[2, 3, 10, 7]], np.float32)
    image = painted_image(20, 30, box)
    for fliplr, flipud in [(1, 0), (0, 1), (1, 1)]:
        out, boxes = random_flip(image, box, np.random.default_rng(0), fliplr, flipud)
        assert np.array_equal(mask_bbox(bright_mask(out)), boxes[0])


def test_no_flip_keeps_input():
    box = np.array([[2, 3, 10, 7]], np.float32)
    image = painted_image(20, 30, box)
    out, boxes = random_flip(image, box, np.random.default_rng(0), 0, 0)
    assert out is image and np.array_equal(boxes, box)
