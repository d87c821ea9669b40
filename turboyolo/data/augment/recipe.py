"""The training augmentation recipe: which transforms run, in which order, on one sample."""
from __future__ import annotations

from typing import Callable

import numpy as np

from turboyolo.data.augment.affine import random_affine
from turboyolo.data.augment.flip import random_flip
from turboyolo.data.augment.hsv import random_hsv
from turboyolo.data.augment.mixup import mixup
from turboyolo.data.augment.mosaic import mosaic4
from turboyolo.data.augment.params import AugmentParams
from turboyolo.data.letterbox import pad_to

# load(index) -> (image (h, w, 3) uint8 BGR with long side imgsz, boxes (N, 4) xyxy px of it, classes (N,))
Loader = Callable[[int], tuple]


def geometric_sample(load: Loader, index: int, count: int, rng: np.random.Generator, imgsz: int,
                     params: AugmentParams, use_mosaic: bool):
    """Mosaic (with probability params.mosaic) or letterbox, then random affine to (imgsz, imgsz)."""
    out_shape = (imgsz, imgsz)
    mosaic_draw, partners = rng.random(), rng.integers(0, count, 3)
    if use_mosaic and mosaic_draw < params.mosaic:
        samples = [load(index)] + [load(int(i)) for i in partners]
        canvas, boxes, visible, classes = mosaic4(samples, rng, imgsz)
        return random_affine(canvas, boxes, classes, rng, out_shape, params, visible=visible)
    image, boxes, classes = load(index)
    padded, pad_x, pad_y = pad_to(image, imgsz, imgsz)
    boxes = boxes + np.array([pad_x, pad_y, pad_x, pad_y], dtype=np.float32)
    return random_affine(padded, boxes, classes, rng, out_shape, params)


def train_sample(load: Loader, index: int, count: int, rng: np.random.Generator, imgsz: int,
                 params: AugmentParams, use_mosaic: bool = True):
    """One augmented training sample: (image (imgsz, imgsz, 3) BGR, boxes (N, 4) xyxy px, classes (N,)).

    Order: mosaic or letterbox -> random affine + box filter -> mixup (only with mosaic on, as
    the second sample is itself a mosaic) -> HSV -> flips. ``count`` is the dataset size, from
    which mosaic and mixup partners are drawn.
    """
    image, boxes, classes = geometric_sample(load, index, count, rng, imgsz, params, use_mosaic)
    mixup_draw, partner = rng.random(), int(rng.integers(0, count))
    if use_mosaic and mixup_draw < params.mixup:
        second = geometric_sample(load, partner, count, rng, imgsz, params, use_mosaic)
        image, boxes, classes = mixup((image, boxes, classes), second, rng)
    image = random_hsv(image, rng, params.hsv_h, params.hsv_s, params.hsv_v)
    image, boxes = random_flip(image, boxes, rng, params.fliplr, params.flipud)
    return image, boxes, classes
