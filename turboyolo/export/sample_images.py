"""Images an export is checked and calibrated on: some of the model's own dataset, or synthetic ones."""
from __future__ import annotations

import cv2
import numpy as np

from turboyolo.data.formats import load_dataset
from turboyolo.data.synth import render_image


def dataset_images(data: str, cache_dir: str | None, difficult: str, split: str, count: int,
                   seed: int) -> tuple[list[np.ndarray], str]:
    """Up to `count` BGR uint8 images of `split`, a seeded sample spread over it, and a few words saying which.

    Raises DatasetError / FileNotFoundError / ConfigError when the dataset cannot be read.
    """
    records = load_dataset(data, cache_dir, verbose=False, difficult=difficult).split(split)
    picks = np.sort(np.random.default_rng(seed).choice(len(records), size=min(count, len(records)), replace=False))
    images = [image for image in (cv2.imread(records[i].path) for i in picks) if image is not None]
    return images, f"{len(images)} {split} images of {data}"


def synthetic_images(count: int, size: int, nc: int, seed: int) -> tuple[list[np.ndarray], str]:
    """`count` generated (size, size, 3) BGR uint8 images with shapes on them (data/synth.py)."""
    rng = np.random.default_rng(seed)
    return [render_image(rng, size, nc)[0] for _ in range(count)], f"{count} synthetic images"
