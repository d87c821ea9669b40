import numpy as np
import pytest

from turboyolo.data.augment.params import AugmentParams
from turboyolo.data.augment.recipe import train_sample
from tests.data.loader_fixtures import bright_mask, painted_image, random_boxes

SIZE = 64


def _loader(seed=0, count=6):
    rng = np.random.default_rng(seed)
    items = []
    for _ in range(count):
        boxes = random_boxes(rng, 48, 64, 3)
        items.append((painted_image(48, 64, boxes), boxes, rng.integers(0, 3, 3)))
    return lambda i: items[i]


@pytest.mark.parametrize("seed", range(25))
def test_mosaic_affine_flip_keeps_painted_pixels_inside_boxes(seed):
    """Property (no rotation, no colour jitter): painted pixels lie inside the output boxes (1 px slack),
    and every output box is mostly painted."""
    params = AugmentParams(mosaic=1.0, translate=0.1, scale=0.5, fliplr=0.5, flipud=0.5, hsv_h=0, hsv_s=0, hsv_v=0,
                           min_box_px=0, min_box_area_ratio=0, max_box_aspect=1e9)  # keep every visible sliver
    image, boxes, classes = train_sample(_loader(), seed % 6, 6, np.random.default_rng(seed), SIZE, params)
    assert image.shape == (SIZE, SIZE, 3) and len(boxes) == len(classes)
    mask = bright_mask(image)
    covered = np.zeros_like(mask)
    for x1, y1, x2, y2 in boxes:
        covered[max(int(y1) - 1, 0) : int(np.ceil(y2)) + 1, max(int(x1) - 1, 0) : int(np.ceil(x2)) + 1] = True
        top, bottom, left, right = int(np.ceil(y1)) + 1, int(y2) - 1, int(np.ceil(x1)) + 1, int(x2) - 1
        inner = mask[top:bottom, left:right] if bottom > top and right > left else mask[:0]
        if inner.size:
            assert inner.mean() > 0.95
    assert not (mask & ~covered).any()


@pytest.mark.parametrize("seed", range(15))
def test_everything_on_gives_valid_boxes(seed):
    params = AugmentParams(mosaic=1.0, mixup=1.0, degrees=30, shear=10, perspective=0.001, flipud=0.5)
    image, boxes, classes = train_sample(_loader(), 0, 6, np.random.default_rng(seed), SIZE, params)
    assert image.dtype == np.uint8 and image.shape == (SIZE, SIZE, 3)
    assert np.isfinite(boxes).all() and boxes.dtype == np.float32
    assert (boxes >= 0).all() and (boxes <= SIZE).all()
    assert (boxes[:, 2:] > boxes[:, :2]).all()


def test_same_seed_same_sample():
    params = AugmentParams(mixup=0.5, degrees=10)
    a = train_sample(_loader(), 1, 6, np.random.default_rng(7), SIZE, params)
    b = train_sample(_loader(), 1, 6, np.random.default_rng(7), SIZE, params)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_without_mosaic_only_own_boxes():
    params = AugmentParams(mosaic=1.0, mixup=1.0, translate=0, scale=0, fliplr=0)
    image, boxes, classes = train_sample(_loader(), 2, 6, np.random.default_rng(0), SIZE, params, use_mosaic=False)
    assert len(boxes) == 3  # letterbox of one image, no mosaic partners, no mixup
