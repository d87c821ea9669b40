"""Random hue shift and saturation / value gains, applied through 256-entry lookup tables (fast)."""
from __future__ import annotations

import cv2
import numpy as np

_LEVELS = np.arange(256, dtype=np.float32)


def random_hsv(image: np.ndarray, rng: np.random.Generator, hue: float, saturation: float, value: float) -> np.ndarray:
    """Jitter a BGR (H, W, 3) uint8 image; returns a new image (the input is not modified).

    hue: max shift as a fraction of the hue circle; saturation, value: gains in [1 - x, 1 + x].
    """
    draws = rng.uniform(-1, 1, 3)
    if not (hue or saturation or value):
        return image
    hue_shift = draws[0] * hue * 180  # OpenCV 8-bit hue runs over [0, 180)
    sat_gain, val_gain = 1 + draws[1] * saturation, 1 + draws[2] * value
    hue_lut = np.mod(_LEVELS + hue_shift, 180).astype(np.uint8)
    sat_lut = np.clip(_LEVELS * sat_gain, 0, 255).astype(np.uint8)
    val_lut = np.clip(_LEVELS * val_gain, 0, 255).astype(np.uint8)
    lut = np.stack([hue_lut, sat_lut, val_lut], axis=-1).reshape(256, 1, 3)  # one LUT pass for all channels
    return cv2.cvtColor(cv2.LUT(cv2.cvtColor(image, cv2.COLOR_BGR2HSV), lut), cv2.COLOR_HSV2BGR)
