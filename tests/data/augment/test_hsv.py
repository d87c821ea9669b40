import numpy as np

from turboyolo.data.augment.hsv import random_hsv


def test_hsv_changes_colours_but_not_grey_hue_or_shape():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
    out = random_hsv(image, rng, 0.1, 0.7, 0.4)
    assert out.shape == image.shape and out.dtype == np.uint8 and not np.array_equal(out, image)
    grey = np.full((4, 4, 3), 100, np.uint8)
    grey_out = random_hsv(grey, np.random.default_rng(1), 0.5, 0.9, 0.0)
    assert np.abs(grey_out.astype(int) - 100).max() <= 1  # no saturation: hue and saturation gains do nothing


def test_zero_gains_return_input():
    image = np.zeros((4, 4, 3), np.uint8)
    assert random_hsv(image, np.random.default_rng(0), 0, 0, 0) is image
