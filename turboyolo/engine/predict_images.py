"""Prediction as values: frames in, one Result per frame out. `turboyolo predict` writes the frames'
detections to files (engine/prediction_writer.py); the Python API (turboyolo/api.py) returns Results."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from turboyolo.data.sources import Frame
from turboyolo.engine.predictor import Predictor
from turboyolo.engine.results import Result


def open_predictor(cfg, device) -> tuple[Predictor, str]:
    """cfg.weights loaded with the checkpoint's imgsz/amp/channels_last adopted unless the user gave them;
    returns the predictor and the line that says what was adopted. A classes= filter beyond the model's
    classes is refused here, before anything is written."""
    from turboyolo.engine.checkpoint_settings import PREDICT_KEYS, adopt_checkpoint_settings
    from turboyolo.engine.class_filter import check_classes
    from turboyolo.engine.weights import load_weights

    ckpt = load_weights(cfg.weights)
    check_classes(cfg.classes, list(ckpt["names"]))
    adopted = adopt_checkpoint_settings(cfg, ckpt, PREDICT_KEYS, cfg.weights)
    return Predictor(ckpt, device, imgsz=cfg.imgsz, amp=cfg.amp, channels_last=cfg.channels_last), adopted


def array_frames(images: Iterable[np.ndarray]) -> Iterator[Frame]:
    """BGR (H, W, 3) uint8 arrays given in memory, named image0.png, image1.png... (no path)."""
    for i, image in enumerate(images):
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image {i}: expected a BGR (H, W, 3) uint8 array, got {image.dtype} {image.shape}")
        yield Frame(image, f"image{i}.png")


def predict_frames(predictor: Predictor, frames: Iterable[Frame], cfg) -> Iterator[Result]:
    """One Result per frame, in order, with cfg's batch, conf, iou, max_det, agnostic_nms and classes."""
    for found in predictor.stream(frames, cfg.batch, cfg.conf, cfg.iou, cfg.max_det, cfg.agnostic_nms, cfg.classes):
        yield Result.from_detections(found.dets, predictor.names, found.frame.image,
                                     Path(found.frame.source) if found.frame.source is not None else None,
                                     found.frame.name)
