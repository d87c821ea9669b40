"""Batched prediction on image files: letterbox -> model -> NMS -> boxes in original pixels.

Times each stage per image (preprocess, inference, NMS) so users see where prediction time goes.
"""
from __future__ import annotations

import glob
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from turboyolo.config import default_of
from turboyolo.data.formats.image_probe import IMAGE_EXTENSIONS, is_image_file
from turboyolo.data.letterbox import letterbox
from turboyolo.engine import amp as amp_lib
from turboyolo.engine.checkpoint_settings import PREDICT_KEYS, trained_settings
from turboyolo.engine.model_input import to_model_input
from turboyolo.engine.weights import inference_model, load_weights
from turboyolo.ops.nms import non_max_suppression

class SourceImage(NamedTuple):
    path: Path
    name: str  # relative output name, unique within one source: "a.jpg", or "cats/a.jpg" for a glob


def list_sources(source: str) -> list[SourceImage]:
    """An image file, a folder (non-recursive), or a glob pattern -> sorted images with unique output names.

    A glob may match one file name in several folders (data/*/img.jpg): names then keep the folders
    below the matches' common folder (a/img.jpg, b/img.jpg), so no output overwrites another.
    """
    path = Path(source)
    if path.is_dir():
        files = [SourceImage(p, p.name) for p in sorted(path.iterdir()) if is_image_file(p.name)]
    elif path.is_file():
        files = [SourceImage(path, path.name)]
    else:
        matches = sorted({os.path.normpath(p) for p in glob.glob(source) if is_image_file(p)})
        base = (os.path.commonpath([os.path.dirname(p) or "." for p in matches]) if matches else "") or "."
        files = [SourceImage(Path(p), Path(os.path.relpath(p, base)).as_posix()) for p in matches]
    if not files:
        raise FileNotFoundError(f"source={source}: no images found (accepted: {', '.join(sorted(IMAGE_EXTENSIONS))})")
    return files


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
                      agnostic: bool = default_of("agnostic_nms")):
        """images: BGR (H, W, 3) uint8 arrays -> list of (n, 6) float arrays xyxy,score,class in original pixels."""
        t0 = time.perf_counter()
        batch, boxed = letterbox_batch(images, self.imgsz, self.stride)
        batch = to_model_input(batch, self.device, self.memory_format)
        t1 = time.perf_counter()
        with amp_lib.autocast(self.device, self.amp_dtype):
            preds = self.model(batch)
        preds = preds.float()
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
