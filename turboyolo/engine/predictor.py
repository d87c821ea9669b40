"""Batched prediction: frames (images, video frames) -> letterbox -> model -> NMS -> boxes in original pixels.

`Predictor.stream` yields one FrameResult per frame and writes nothing: `turboyolo predict` hands
them to engine/prediction_writer.py, and Python callers keep them. Times each stage per image
(preprocess, inference, NMS) so users see where prediction time goes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np
import torch

from turboyolo.config import default_of
from turboyolo.data.letterbox import letterbox
from turboyolo.data.sources import Frame, batched
from turboyolo.engine import amp as amp_lib
from turboyolo.engine.checkpoint_settings import PREDICT_KEYS, trained_settings
from turboyolo.engine.class_filter import check_classes, keep_class_scores
from turboyolo.engine.model_input import to_model_input
from turboyolo.engine.weights import inference_model, load_weights
from turboyolo.ops.nms import non_max_suppression

MAX_PREDICT_BATCH = 32  # frames per forward pass at most, whatever batch= says (it is a training batch)
PREDICT_CONF = 0.25  # conf= when not given: predict shows confident boxes (val scores from 0.001)


@dataclass
class FrameResult:
    """The detections of one frame. dets: (N, 6) float32 x1, y1, x2, y2 (original pixels), score, class."""

    frame: Frame
    dets: np.ndarray

    @property
    def boxes(self) -> np.ndarray:
        """(N, 4) xyxy pixels of the original image."""
        return self.dets[:, :4]

    @property
    def scores(self) -> np.ndarray:
        return self.dets[:, 4]

    @property
    def classes(self) -> np.ndarray:
        """(N,) int64 class ids."""
        return self.dets[:, 5].astype(np.int64)


def letterbox_batch(images: list[np.ndarray], imgsz: int, stride: int) -> tuple[torch.Tensor, list[tuple[float, int, int]]]:
    """BGR (H, W, 3) uint8 images -> (B, 3, S, S) uint8 RGB square letterboxes (S = imgsz rounded up to
    the stride) and each image's (scale, pad_x, pad_y). engine/model_input.py makes them network input."""
    boxed = [letterbox(im, imgsz, stride, square=True) for im in images]
    batch = torch.from_numpy(np.stack([b[0] for b in boxed])[..., ::-1].copy())  # BGR -> RGB
    return batch.permute(0, 3, 1, 2), [(scale, pad_x, pad_y) for _, scale, pad_x, pad_y in boxed]


@dataclass
class StageTimes:
    preprocess_s: float = 0.0
    inference_s: float = 0.0
    nms_s: float = 0.0
    images: int = 0
    extra: dict = field(default_factory=dict)

    def per_image_ms(self) -> dict:
        n = max(self.images, 1)
        return {"preprocess_ms": 1e3 * self.preprocess_s / n, "inference_ms": 1e3 * self.inference_s / n,
                "nms_ms": 1e3 * self.nms_s / n}


class Predictor:
    """weights: a checkpoint or exported .onnx path, or an already loaded one (engine/weights.py). imgsz (the letterbox size),
    amp and channels_last: None = as the checkpoint was trained (`turboyolo predict` passes the
    values it resolved the same way, checkpoint_settings.PREDICT_KEYS, unless the user gave them)."""

    def __init__(self, weights: str | dict, device: torch.device, imgsz: int | None = None, amp: str | None = None,
                 channels_last: bool | None = None):
        ckpt = weights if isinstance(weights, dict) else load_weights(weights)
        trained_cfg = trained_settings(ckpt, PREDICT_KEYS, origin="checkpoint" if isinstance(weights, dict)
                                       else f"checkpoint {weights}")
        imgsz = trained_cfg.imgsz if imgsz is None else imgsz
        amp = trained_cfg.amp if amp is None else amp
        channels_last = trained_cfg.channels_last if channels_last is None else channels_last
        self.names = list(ckpt["names"])
        self.imgsz = int(imgsz)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = inference_model(ckpt, device, self.memory_format)
        self.device = device
        self.amp_dtype = amp_lib.resolve_amp(amp, device)
        self.stride = int(max(self.model.strides))
        self.times = StageTimes()

    @torch.inference_mode()
    def predict_batch(self, images: list[np.ndarray], conf: float, iou: float, max_det: int,
                      agnostic: bool = default_of("agnostic_nms"), classes: list[int] | None = None):
        """images: BGR (H, W, 3) uint8 arrays -> list of (n, 6) float arrays xyxy,score,class in original pixels.

        classes: keep only these class ids (None or [] = all), applied before NMS (engine/class_filter.py)."""
        t0 = time.perf_counter()
        batch, boxed = letterbox_batch(images, self.imgsz, self.stride)
        batch = to_model_input(batch, self.device, self.memory_format)
        t1 = time.perf_counter()
        with amp_lib.autocast(self.device, self.amp_dtype):
            preds = self.model(batch)
        preds = keep_class_scores(preds.float(), classes)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        dets = non_max_suppression(preds, conf, iou, max_det, agnostic=agnostic)
        out = []
        for det, (scale, pad_x, pad_y), im in zip(dets, boxed, images):
            det = det.cpu().numpy().copy()
            det[:, [0, 2]] = ((det[:, [0, 2]] - pad_x) / scale).clip(0, im.shape[1])
            det[:, [1, 3]] = ((det[:, [1, 3]] - pad_y) / scale).clip(0, im.shape[0])
            out.append(det)
        t3 = time.perf_counter()
        self.times.preprocess_s += t1 - t0
        self.times.inference_s += t2 - t1
        self.times.nms_s += t3 - t2
        self.times.images += len(images)
        return out

    def stream(self, frames: Iterable[Frame], batch_size: int, conf: float | None = None, iou: float = default_of("iou"),
               max_det: int = default_of("max_det"), agnostic: bool = default_of("agnostic_nms"),
               classes: list[int] | None = None) -> Iterator[FrameResult]:
        """One FrameResult per frame, in order; frames go through the network `batch_size` at a time
        (at most MAX_PREDICT_BATCH). A live stream's frames are yielded as their batch completes.

        conf: None = PREDICT_CONF. classes: class ids to keep (None or [] = all), checked against the
        model's classes first."""
        conf = PREDICT_CONF if conf is None else conf
        classes = check_classes(classes, self.names) if classes else None
        for chunk in batched(frames, max(1, min(batch_size, MAX_PREDICT_BATCH))):
            found = self.predict_batch([frame.image for frame in chunk], conf, iou, max_det, agnostic, classes)
            for frame, dets in zip(chunk, found):
                yield FrameResult(frame, dets.astype(np.float32))
