import numpy as np
import pytest

from turboyolo.data.augment.affine import random_affine, random_affine_matrix, transform_boxes, warp_image
from turboyolo.data.augment.params import AugmentParams
from tests.data.loader_fixtures import bright_mask, mask_bbox, painted_image, random_boxes


def test_identity_transform_is_a_no_op():
    image = np.random.default_rng(0).integers(0, 255, (32, 48, 3), dtype=np.uint8)
    matrix = random_affine_matrix(np.random.default_rng(0), (32, 48), (32, 48))
    assert np.allclose(matrix, np.eye(3))
    assert warp_image(image, matrix, (32, 48)) is image


@pytest.mark.parametrize("seed", range(40))
def test_box_follows_filled_rectangle_without_rotation(seed):
    """Property: after scale/translate/shear, the painted pixels' extent equals the transformed box (<= 1 px)."""
    rng = np.random.default_rng(seed)
    box = random_boxes(rng, 96, 128, 1, min_size=12)
    image = painted_image(96, 128, box)
    params = AugmentParams(translate=0.2, scale=0.5, shear=10.0 * (seed % 2), min_box_px=0, min_box_area_ratio=0)
    out, boxes, classes = random_affine(image, box, np.zeros(1, np.int64), rng, (112, 112), params)
    found = mask_bbox(bright_mask(out))
    if len(boxes) == 0:  # moved out of the picture entirely
        assert found is None or (found[2:] - found[:2]).min() <= 2
        return
    assert found is not None
    clipped = boxes[0].min() <= 0 or boxes[0].max() >= 112
    if params.shear and clipped:
        # a sheared box is a parallelogram: once cut by the border its extent is tighter than the
        # clipped enclosing box (the known limit of axis-aligned boxes), so only containment holds
        assert (found[:2] >= boxes[0, :2] - 1).all() and (found[2:] <= boxes[0, 2:] + 1).all()
        return
    assert np.abs(found - boxes[0]).max() <= 1.0, (found, boxes[0])


@pytest.mark.parametrize("seed", range(20))
def test_boxes_inside_and_finite_under_strong_transforms(seed):
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, 64, 64, 4)
    params = AugmentParams(degrees=45, translate=0.5, scale=0.9, shear=20, perspective=0.001)
    out, kept, classes = random_affine(painted_image(64, 64, boxes), boxes, np.arange(4), rng, (64, 64), params)
    assert out.shape == (64, 64, 3)
    assert np.isfinite(kept).all() and len(kept) == len(classes)
    assert (kept >= 0).all() and (kept[:, [0, 2]] <= 64).all() and (kept[:, [1, 3]] <= 64).all()
    assert ((kept[:, 2:] - kept[:, :2]) > params.min_box_px).all()


def test_transform_boxes_handles_empty_and_rotation():
    assert transform_boxes(np.zeros((0, 4), np.float32), np.eye(3)).shape == (0, 4)
    quarter_turn = np.array([[0, -1, 10], [1, 0, 0], [0, 0, 1]], dtype=np.float64)
    out = transform_boxes(np.array([[0, 0, 4, 2]], np.float32), quarter_turn)
    assert np.allclose(out, [[8, 0, 10, 4]])
