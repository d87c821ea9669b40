"""Random horizontal and vertical flips (views; the dataset's final CHW copy makes them contiguous)."""
from __future__ import annotations

import numpy as np


def random_flip(image: np.ndarray, boxes: np.ndarray, rng: np.random.Generator, fliplr: float, flipud: float):
    """Flip (H, W, 3) left-right with probability ``fliplr`` and up-down with ``flipud``.

    Returns (image, boxes): boxes (N, 4) xyxy pixels mirrored with the pixels.
    """
    height, width = image.shape[:2]
    # Draw both numbers every time so the random stream does not depend on which flips are enabled.
    draw_lr, draw_ud = rng.random(2)
    if draw_lr < fliplr:
        image = image[:, ::-1]
        boxes = np.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], axis=1)
    if draw_ud < flipud:
        image = image[::-1]
        boxes = np.stack([boxes[:, 0], height - boxes[:, 3], boxes[:, 2], height - boxes[:, 1]], axis=1)
    return image, boxes.astype(np.float32, copy=False)
