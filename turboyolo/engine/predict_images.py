"""Prediction as values: images in, one Result per image out. `turboyolo predict` writes them to files,
the Python API (turboyolo/api.py) returns them."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from turboyolo.engine.predictor import Predictor, SourceImage
from turboyolo.engine.results import Result

PREDICT_CONF = 0.25  # conf=null means this for prediction (validation's is 0.001)
MAX_PREDICT_BATCH = 32  # images per forward pass: larger batches gain little and hold every image in memory


def open_predictor(cfg, device) -> tuple[Predictor, str]:
    """cfg.weights loaded with the checkpoint's imgsz/amp/channels_last adopted unless the user gave them;
    returns the predictor and the line that says what was adopted."""
    from turboyolo.engine.checkpoint_settings import PREDICT_KEYS, adopt_checkpoint_settings
    from turboyolo.engine.weights import load_weights

    ckpt = load_weights(cfg.weights)
    adopted = adopt_checkpoint_settings(cfg, ckpt, PREDICT_KEYS, cfg.weights)
    return Predictor(ckpt, device, imgsz=cfg.imgsz, amp=cfg.amp, channels_last=cfg.channels_last), adopted


def predict_conf(conf: float | None) -> float:
    return PREDICT_CONF if conf is None else conf


def predict_batch_size(batch: int) -> int:
    return max(1, min(batch, MAX_PREDICT_BATCH))


def read_images(sources: Iterable[SourceImage]) -> Iterator[tuple[SourceImage, np.ndarray]]:
    """Each readable image with its source; an unreadable one is skipped with one line."""
    for source in sources:
        image = cv2.imread(str(source.path))
        if image is None:
            print(f"turboyolo predict: skipping unreadable image {source.path}")
            continue
        yield source, image


def array_images(images: Iterable[np.ndarray]) -> Iterator[tuple[SourceImage, np.ndarray]]:
    """BGR (H, W, 3) uint8 arrays given in memory, named image0.png, image1.png... (no path)."""
    for i, image in enumerate(images):
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image {i}: expected a BGR (H, W, 3) uint8 array, got {image.dtype} {image.shape}")
        yield SourceImage(None, f"image{i}.png"), image


def predict_images(predictor: Predictor, images: Iterable[tuple[SourceImage, np.ndarray]], conf: float, iou: float,
                   max_det: int, agnostic: bool, batch_size: int) -> Iterator[Result]:
    """(source, BGR image) pairs -> one Result per image, in order, batch_size images per forward pass."""
    chunk: list[tuple[SourceImage, np.ndarray]] = []

    def flush() -> list[Result]:
        found = predictor.predict_batch([image for _, image in chunk], conf, iou, max_det, agnostic)
        done = [Result.from_detections(dets, predictor.names, image, Path(source.path) if source.path else None,
                                       source.name) for (source, image), dets in zip(chunk, found)]
        chunk.clear()
        return done

    for pair in images:
        chunk.append(pair)
        if len(chunk) == batch_size:
            yield from flush()
    if chunk:
        yield from flush()
