"""Mosaic (Bochkovskiy et al. 2020): four images around a random centre on a double-size canvas."""
from __future__ import annotations

import numpy as np

from turboyolo.data.augment.box_filter import clip_boxes
from turboyolo.data.letterbox import PAD_VALUE


def mosaic4(samples: list[tuple], rng: np.random.Generator, imgsz: int):
    """Tile four (image, boxes, classes) samples (images with long side <= imgsz) on a 2*imgsz canvas.

    Image k's corner touches the random centre: 0 top-left, 1 top-right, 2 bottom-left,
    3 bottom-right; parts beyond the canvas are cut off.
    Returns (canvas (2s, 2s, 3) uint8, boxes (N, 4) whole objects, visible (N, 4) parts inside
    the canvas, classes (N,)); the random affine that follows crops it to (s, s).
    """
    if len(samples) != 4:
        raise ValueError(f"mosaic4 needs 4 samples, got {len(samples)}")
    side = 2 * imgsz
    centre_x, centre_y = (rng.uniform(0.5, 1.5, 2) * imgsz).astype(int)
    canvas = np.full((side, side, 3), PAD_VALUE, dtype=np.uint8)
    all_boxes, all_classes = [], []
    for k, (image, boxes, classes) in enumerate(samples):
        height, width = image.shape[:2]
        left = centre_x - width if k in (0, 2) else centre_x
        top = centre_y - height if k in (0, 1) else centre_y
        # paste the part of the image that falls on the canvas
        x0, y0 = max(left, 0), max(top, 0)
        x1, y1 = min(left + width, side), min(top + height, side)
        canvas[y0:y1, x0:x1] = image[y0 - top : y1 - top, x0 - left : x1 - left]
        all_boxes.append(boxes + np.array([left, top, left, top], dtype=np.float32))
        all_classes.append(classes)
    boxes = np.concatenate(all_boxes).astype(np.float32)
    return canvas, boxes, clip_boxes(boxes, side, side), np.concatenate(all_classes)
