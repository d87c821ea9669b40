"""Draw images with their boxes and class names, tiled into one PNG.

Used by `turboyolo show`, by the trainer's training-batch plots and by predict. Drawing uses cv2
(fast, no matplotlib figure per image), so plotting a batch costs milliseconds.
"""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import torch

from turboyolo.config import default_of


def class_color(class_id: int) -> tuple[int, int, int]:
    """A stable, well-separated RGB colour per class (golden-ratio steps around the hue circle)."""
    hue = int((class_id * 0.618033988749895 % 1.0) * 180)
    hsv = np.array([[[hue, 200, 230]]], dtype=np.uint8)
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def default_line_width(height: int, width: int) -> int:
    """Box line width, pixels, when line_width= is 0: about 1 px per 400 px of the longer side."""
    return max(1, round(max(height, width) / 400))


def draw_boxes(image: np.ndarray, boxes: np.ndarray, classes: np.ndarray, names: list[str] | None = None,
               scores: np.ndarray | None = None, line_width: int = default_of("line_width"), bgr: bool = False) -> np.ndarray:
    """Copy of an RGB (H, W, 3) uint8 image (BGR with bgr=True) with boxes (N, 4) xyxy pixels and
    "name score" labels.

    line_width: box lines in pixels (0 = default_line_width); the label font scales with it. Each label
    sits on a filled box of its class colour, in black or white text (whichever contrasts more), so it
    stays readable over other boxes and busy backgrounds.
    """
    canvas = np.ascontiguousarray(image).copy()
    height, width = canvas.shape[:2]
    thickness = line_width or default_line_width(height, width)
    font_scale = max(0.3, thickness / 3, max(height, width) / 1200)
    text_thickness = max(1, thickness // 2)
    for i, (box, class_id) in enumerate(zip(np.asarray(boxes).reshape(-1, 4), np.asarray(classes).reshape(-1))):
        class_id = int(class_id)
        color = class_color(class_id)
        text_color = (0, 0, 0) if 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2] > 150 else (255, 255, 255)
        if bgr:
            color = color[::-1]
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, thickness, cv2.LINE_AA)
        label = names[class_id] if names and 0 <= class_id < len(names) else str(class_id)
        if scores is not None:
            label = f"{label} {float(scores[i]):.2f}"
        (text_w, text_h), baseline = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, text_thickness)
        top = y1 - text_h - baseline if y1 - text_h - baseline >= 0 else y1  # inside the box at the top edge
        left = max(0, min(x1, width - text_w))  # kept inside the image at the right edge
        cv2.rectangle(canvas, (left, top), (left + text_w, top + text_h + baseline), color, -1)
        cv2.putText(canvas, label, (left, top + text_h), cv2.FONT_HERSHEY_SIMPLEX, font_scale, text_color,
                    text_thickness, cv2.LINE_AA)
    return canvas


def _to_hwc(image) -> np.ndarray:
    array = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[2] not in (1, 3):
        array = array.transpose(1, 2, 0)
    if array.dtype != np.uint8:  # float images in [0, 1]
        array = (np.clip(array, 0, 1) * 255 + 0.5).astype(np.uint8)
    return np.repeat(array, 3, axis=2) if array.shape[2] == 1 else array


def boxes_grid(images, boxes: list, classes: list, names: list[str] | None = None, scores: list | None = None,
               titles: list[str] | None = None, columns: int | None = None, max_width: int = 2048) -> np.ndarray:
    """Tile images (each RGB (H, W, 3) or (3, H, W); uint8 or float in [0, 1]) with their boxes.

    boxes[i]: (Ni, 4) xyxy pixels of image i; classes[i]: (Ni,); scores[i]: (Ni,) or None.
    Tiles are scaled down so the grid is at most ``max_width`` pixels wide. Returns RGB uint8.
    """
    count = len(images)
    if count == 0:
        raise ValueError("boxes_grid needs at least one image")
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    drawn = []
    for i in range(count):
        tile = draw_boxes(_to_hwc(images[i]), boxes[i], classes[i], names, None if scores is None else scores[i])
        if titles:
            cv2.putText(tile, titles[i][-60:], (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        drawn.append(tile)
    tile_h = max(t.shape[0] for t in drawn)
    tile_w = max(t.shape[1] for t in drawn)
    shrink = min(1.0, max_width / (tile_w * columns))
    tile_h, tile_w = max(1, int(tile_h * shrink)), max(1, int(tile_w * shrink))
    grid = np.full((rows * tile_h, columns * tile_w, 3), 255, dtype=np.uint8)
    for i, tile in enumerate(drawn):
        scale = min(tile_h / tile.shape[0], tile_w / tile.shape[1])
        if scale != 1.0:
            tile = cv2.resize(tile, (max(1, int(tile.shape[1] * scale)), max(1, int(tile.shape[0] * scale))),
                              interpolation=cv2.INTER_AREA)
        row, col = divmod(i, columns)
        grid[row * tile_h : row * tile_h + tile.shape[0], col * tile_w : col * tile_w + tile.shape[1]] = tile
    return grid


def save_boxes_grid(path: str | Path, images, boxes: list, classes: list, names: list[str] | None = None,
                    scores: list | None = None, titles: list[str] | None = None, **kwargs) -> Path:
    """boxes_grid(...) written as a PNG (parent folders created). Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid = boxes_grid(images, boxes, classes, names, scores, titles, **kwargs)
    if not cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
    return path


def save_batch_grid(path: str | Path, batch: dict, names: list[str] | None = None, max_images: int = 16) -> Path:
    """Plot a loader batch (see data/loader.py collate_detection): images with their targets."""
    images = batch["images"][:max_images]
    height, width = images.shape[2:]
    targets = batch["targets"].detach().cpu().numpy()
    boxes, classes = [], []
    for i in range(len(images)):
        rows = targets[targets[:, 0] == i]
        cx, cy, w, h = rows[:, 2] * width, rows[:, 3] * height, rows[:, 4] * width, rows[:, 5] * height
        boxes.append(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1))
        classes.append(rows[:, 1].astype(np.int64))
    titles = [Path(p).name for p in batch.get("paths", [])][:max_images] or None
    return save_boxes_grid(path, images, boxes, classes, names, titles=titles)
