"""Mixup (Zhang et al. 2018) for detection: blend two images, keep the boxes of both."""
from __future__ import annotations

import numpy as np


def mixup(first: tuple, second: tuple, rng: np.random.Generator, alpha: float = 32.0) -> tuple:
    """Blend two (image, boxes, classes) samples of the same image shape.

    The weight is drawn from Beta(alpha, alpha), i.e. close to 0.5, so both images stay visible.
    Returns (image uint8 (H, W, 3), boxes (N1+N2, 4), classes (N1+N2,)).
    """
    image_a, boxes_a, classes_a = first
    image_b, boxes_b, classes_b = second
    if image_a.shape != image_b.shape:
        raise ValueError(f"mixup needs equal shapes, got {image_a.shape} and {image_b.shape}")
    weight = rng.beta(alpha, alpha)
    blended = (image_a.astype(np.float32) * weight + image_b.astype(np.float32) * (1 - weight) + 0.5).astype(np.uint8)
    return blended, np.concatenate([boxes_a, boxes_b]), np.concatenate([classes_a, classes_b])
