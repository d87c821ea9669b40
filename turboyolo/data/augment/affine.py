"""Random geometric transform: scale, rotation, shear, translation and (optionally) perspective.

One 3x3 matrix moves pixels (cv2.warpAffine / warpPerspective) and box corners (one numpy matmul
for all boxes), so boxes follow the pixels exactly.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from turboyolo.data.augment.box_filter import box_keep_mask, clip_boxes
from turboyolo.data.letterbox import PAD_VALUE


def _translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], dtype=np.float64)


def random_affine_matrix(
    rng: np.random.Generator,
    in_shape: tuple[int, int],
    out_shape: tuple[int, int],
    degrees: float = 0.0,
    translate: float = 0.0,
    scale: float = 0.0,
    shear: float = 0.0,
    perspective: float = 0.0,
) -> np.ndarray:
    """3x3 matrix taking input pixel coordinates (x, y, 1) to output coordinates.

    in_shape, out_shape: (height, width). The input centre lands on the output centre, then is
    moved by up to ``translate`` x output size. Angles are in degrees; scale gain in 1 +/- scale.
    Always draws the same amount of random numbers, so the stream does not depend on settings.
    """
    in_h, in_w = in_shape
    out_h, out_w = out_shape
    persp_x, persp_y, angle, gain, shear_x, shear_y, shift_x, shift_y = rng.uniform(-1, 1, 8)
    to_origin = _translation(-in_w / 2, -in_h / 2)
    warp = np.eye(3)
    warp[2, 0], warp[2, 1] = persp_x * perspective, persp_y * perspective
    rotate = np.eye(3)
    rotate[:2] = cv2.getRotationMatrix2D((0, 0), angle * degrees, 1 + gain * scale)
    skew = np.eye(3)
    skew[0, 1] = math.tan(math.radians(shear_x * shear))
    skew[1, 0] = math.tan(math.radians(shear_y * shear))
    to_output = _translation(out_w * (0.5 + shift_x * translate), out_h * (0.5 + shift_y * translate))
    return to_output @ skew @ rotate @ warp @ to_origin


def warp_image(image: np.ndarray, matrix: np.ndarray, out_shape: tuple[int, int]) -> np.ndarray:
    """Warp (H, W, 3) with a 3x3 matrix in pixel-edge coordinates into an (out_h, out_w) image.

    OpenCV puts pixel centres at integer coordinates while boxes use pixel edges (pixel i spans
    [i, i+1)); shifting by half a pixel on both sides keeps the two conventions in agreement.
    """
    out_h, out_w = out_shape
    if image.shape[:2] == (out_h, out_w) and np.allclose(matrix, np.eye(3)):
        return image
    centred = _translation(-0.5, -0.5) @ matrix @ _translation(0.5, 0.5)
    border = (PAD_VALUE, PAD_VALUE, PAD_VALUE)
    if matrix[2, 0] or matrix[2, 1]:
        return cv2.warpPerspective(image, centred, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=border)
    return cv2.warpAffine(image, centred[:2], (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=border)


def transform_boxes(boxes: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(N, 4) xyxy -> (N, 4) xyxy enclosing the transformed corners (not clipped)."""
    if len(boxes) == 0:
        return boxes.reshape(0, 4).astype(np.float32)
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    corners_x = np.stack([x1, x2, x2, x1], axis=1)  # (N, 4)
    corners_y = np.stack([y1, y1, y2, y2], axis=1)
    points = np.stack([corners_x, corners_y, np.ones_like(corners_x)], axis=-1).astype(np.float64)  # (N, 4, 3)
    moved = points @ matrix.T
    xy = moved[..., :2] / moved[..., 2:3]
    return np.concatenate([xy.min(1), xy.max(1)], axis=1).astype(np.float32)


def random_affine(
    image: np.ndarray,
    boxes: np.ndarray,
    classes: np.ndarray,
    rng: np.random.Generator,
    out_shape: tuple[int, int],
    params,
    visible: np.ndarray | None = None,
):
    """Apply a random transform (magnitudes from ``params``: AugmentParams) and filter the boxes.

    boxes: (N, 4) xyxy the whole objects; visible: (N, 4) xyxy the parts visible in ``image``
    (defaults to ``boxes``; mosaic passes both because it crops images at the canvas border).
    Returns (image (out_h, out_w, 3), boxes (M, 4) clipped to the output, classes (M,)).
    """
    matrix = random_affine_matrix(
        rng, image.shape[:2], out_shape, params.degrees, params.translate, params.scale, params.shear, params.perspective
    )
    warped = warp_image(image, matrix, out_shape)
    visible = boxes if visible is None else visible
    moved = transform_boxes(np.concatenate([boxes, visible]), matrix)
    full, seen = moved[: len(boxes)], moved[len(boxes) :]
    seen = clip_boxes(seen, out_shape[1], out_shape[0])
    keep = box_keep_mask(full, seen, params.min_box_px, params.min_box_area_ratio, params.max_box_aspect)
    return warped, seen[keep], classes[keep]
