import numpy as np

from turboyolo.data.letterbox import letterbox, pad_to, padded_shape, resize_long_side, resized_shape
from tests.data.loader_fixtures import bright_mask, mask_bbox, painted_image


def test_resize_long_side_keeps_aspect():
    image = np.zeros((300, 600, 3), np.uint8)
    assert resize_long_side(image, 200).shape == (100, 200, 3)
    assert resize_long_side(image, 1200).shape == (600, 1200, 3)
    assert resized_shape(1, 1000, 100) == (1, 100)  # never a zero-size side


def test_padded_shape_square_and_rect():
    assert padded_shape(312, 416, 416) == (416, 416)
    assert padded_shape(312, 416, 416, square=False) == (320, 416)
    assert padded_shape(100, 100, 100) == (128, 128)  # rounded up to the stride


def test_letterbox_maps_boxes_with_scale_and_pad():
    box = np.array([[100, 40, 300, 160]], np.float32)
    image = painted_image(240, 640, box)
    out, scale, pad_x, pad_y = letterbox(image, 320)
    assert out.shape == (320, 320, 3)
    assert (pad_x, pad_y) == (0, 100)
    expected = box[0] * scale + np.array([pad_x, pad_y, pad_x, pad_y])
    assert np.abs(mask_bbox(bright_mask(out)) - expected).max() <= 1


def test_pad_to_centres_and_fills_grey():
    out, pad_x, pad_y = pad_to(np.zeros((10, 20, 3), np.uint8), 32, 32)
    assert (pad_x, pad_y) == (6, 11)
    assert out[0, 0, 0] == 114 and out[11, 6, 0] == 0
