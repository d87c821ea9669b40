import numpy as np

from turboyolo.data.augment.box_filter import box_keep_mask, clip_boxes


def test_clip_boxes_to_image():
    out = clip_boxes(np.array([[-5, -5, 20, 30]], np.float32), 10, 20)
    assert out.tolist() == [[0, 0, 10, 20]]


def test_keep_mask_drops_small_cut_and_thin_boxes():
    full = np.array([[0, 0, 10, 10], [0, 0, 1, 10], [-90, 0, 10, 10], [0, 0, 100, 3]], np.float32)
    clipped = clip_boxes(full, 200, 200)
    keep = box_keep_mask(full, clipped, min_px=2, min_area_ratio=0.2, max_aspect=20)
    # kept; too narrow; only 10% of it still visible; 33:1 aspect... but 100x3 is 33 > 20
    assert keep.tolist() == [True, False, False, False]
    assert box_keep_mask(full[3:], clipped[3:], 2, 0.2, 50).tolist() == [True]


def test_keep_mask_rejects_nan():
    boxes = np.array([[np.nan, 0, 5, 5]], np.float32)
    assert box_keep_mask(boxes, boxes, 0, 0, 100).tolist() == [False]
