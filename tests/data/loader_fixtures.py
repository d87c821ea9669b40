"""Tiny on-disk images with known boxes, for the loader, cache and augmentation tests."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from turboyolo.data.records import ImageRecord

RECT_VALUE = 255  # boxes are painted white on a black image: easy to find again after a transform


def painted_image(height: int, width: int, boxes: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 black image with each xyxy box (integer pixels) filled white."""
    image = np.zeros((height, width, 3), dtype=np.uint8)
    for x1, y1, x2, y2 in np.asarray(boxes, dtype=int):
        image[y1:y2, x1:x2] = RECT_VALUE
    return image


def random_boxes(rng: np.random.Generator, height: int, width: int, count: int, min_size: int = 8) -> np.ndarray:
    """(count, 4) integer-valued float32 xyxy boxes inside an image, not overlapping (a grid of cells)."""
    cols = 3
    cell_w, cell_h = width // cols, height // cols
    cells = rng.choice(cols * cols, count, replace=False)
    boxes = []
    for cell in cells:
        row, col = divmod(int(cell), cols)
        w, h = rng.integers(min_size, cell_w - 1), rng.integers(min_size, cell_h - 1)
        x1, y1 = col * cell_w + rng.integers(0, cell_w - w), row * cell_h + rng.integers(0, cell_h - h)
        boxes.append([x1, y1, x1 + w, y1 + h])
    return np.array(boxes, dtype=np.float32)


def write_records(folder: Path, count: int, height: int = 60, width: int = 80, boxes_per_image: int = 2,
                  seed: int = 0, classes: int = 3) -> list[ImageRecord]:
    """Write ``count`` PNGs (painted boxes) to ``folder``; return their ImageRecords."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(count):
        boxes = random_boxes(rng, height, width, boxes_per_image)
        path = folder / f"image_{i:04d}.png"
        cv2.imwrite(str(path), painted_image(height, width, boxes))
        records.append(ImageRecord(str(path), width, height, boxes, rng.integers(0, classes, len(boxes)), image_id=i))
    return records


def bright_mask(image: np.ndarray, threshold: int = 185) -> np.ndarray:
    """(H, W) bool: pixels of a painted box (all channels bright; grey padding 114 is not)."""
    return (np.asarray(image) > threshold).all(axis=-1)


def mask_bbox(mask: np.ndarray) -> np.ndarray | None:
    """xyxy pixel-edge box of the True pixels, or None."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float32)
