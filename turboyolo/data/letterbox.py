"""Letterbox: resize an image to fit a target size, keeping its aspect ratio, and pad the rest.

The network sees square (or stride-multiple) inputs; letterboxing maps original pixels to input
pixels with one scale and one offset, ``x_in = x_orig * scale + pad_x``, so boxes map back exactly.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

PAD_VALUE = 114  # mid-grey: the padding colour YOLO models are trained to ignore


def fit_scale(height: int, width: int, long_side: int) -> float:
    """Scale that makes the longer side of an (height, width) image equal to ``long_side``."""
    return long_side / max(height, width)


def resized_shape(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(h, w) after resizing so the long side is ``long_side`` (each side at least 1 px)."""
    scale = fit_scale(height, width, long_side)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_long_side(image: np.ndarray, long_side: int) -> np.ndarray:
    """Resize (H, W, C) so its long side is ``long_side``; INTER_AREA when shrinking (no aliasing)."""
    height, width = image.shape[:2]
    new_h, new_w = resized_shape(height, width, long_side)
    if (new_h, new_w) == (height, width):
        return image
    shrinking = new_h < height or new_w < width
    return cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def padded_shape(height: int, width: int, imgsz: int, stride: int = 32, square: bool = True) -> tuple[int, int]:
    """Network input (h, w) for an image already resized to long side ``imgsz``.

    square=True gives (imgsz, imgsz) rounded up to the stride; square=False the smallest stride
    multiples that hold the image (rectangular validation batches).
    """
    if square:
        side = math.ceil(imgsz / stride) * stride
        return side, side
    return math.ceil(height / stride) * stride, math.ceil(width / stride) * stride


def pad_to(image: np.ndarray, out_h: int, out_w: int, value: int = PAD_VALUE) -> tuple[np.ndarray, int, int]:
    """Centre (H, W, C) on an (out_h, out_w, C) canvas; returns (canvas, pad_x, pad_y) in pixels."""
    height, width = image.shape[:2]
    if out_h < height or out_w < width:
        raise ValueError(f"cannot pad a {height}x{width} image into {out_h}x{out_w}")
    pad_y, pad_x = (out_h - height) // 2, (out_w - width) // 2
    if (out_h, out_w) == (height, width):
        return image, 0, 0
    canvas = np.full((out_h, out_w, image.shape[2]), value, dtype=image.dtype)
    canvas[pad_y : pad_y + height, pad_x : pad_x + width] = image
    return canvas, pad_x, pad_y


def letterbox(image: np.ndarray, imgsz: int, stride: int = 32, square: bool = True) -> tuple[np.ndarray, float, int, int]:
    """Resize (H, W, 3) so the long side is ``imgsz`` and pad to a stride multiple.

    Returns (image, scale, pad_x, pad_y): ``x_in = x_orig * scale + pad_x`` (same for y).
    """
    height, width = image.shape[:2]
    resized = resize_long_side(image, imgsz)
    out_h, out_w = padded_shape(*resized.shape[:2], imgsz, stride, square)
    padded, pad_x, pad_y = pad_to(resized, out_h, out_w)
    return padded, fit_scale(height, width, imgsz), pad_x, pad_y
