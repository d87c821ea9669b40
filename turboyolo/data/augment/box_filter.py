"""Clip augmented boxes to the image and drop the ones too small, too cut off or too elongated."""
from __future__ import annotations

import numpy as np


def clip_boxes(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    """(N, 4) xyxy pixels -> copy clipped to [0, width] x [0, height]."""
    out = boxes.copy()
    np.clip(out[:, 0::2], 0, width, out=out[:, 0::2])
    np.clip(out[:, 1::2], 0, height, out=out[:, 1::2])
    return out


def box_keep_mask(
    full: np.ndarray, clipped: np.ndarray, min_px: float, min_area_ratio: float, max_aspect: float, eps: float = 1e-9
) -> np.ndarray:
    """Which boxes survive: (N,) bool.

    full: (N, 4) xyxy the whole object after the transform (may extend past the image).
    clipped: (N, 4) xyxy the part still visible.
    Kept when the visible part is at least ``min_px`` wide and high, keeps at least
    ``min_area_ratio`` of the whole object's area, and its aspect ratio is below ``max_aspect``.
    """
    width = clipped[:, 2] - clipped[:, 0]
    height = clipped[:, 3] - clipped[:, 1]
    full_area = (full[:, 2] - full[:, 0]) * (full[:, 3] - full[:, 1])
    aspect = np.maximum(width / (height + eps), height / (width + eps))
    keep = (width > min_px) & (height > min_px) & (width * height >= min_area_ratio * full_area) & (aspect < max_aspect)
    return keep & np.isfinite(clipped).all(1)
