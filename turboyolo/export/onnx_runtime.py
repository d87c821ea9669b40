"""An exported ONNX model run by onnxruntime behind the call signature of an eval-mode DetectionModel.

`validate` and `Predictor` take either model unchanged: letterbox, normalisation, NMS and the
mapping back to original pixels stay theirs, so an .onnx file is scored and drawn exactly as its
checkpoint is. Only the network itself runs elsewhere.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from turboyolo.config import ConfigError
from turboyolo.export.extra import require


def session_options(ort, threads: int):
    """Intra-op threads as torch was given them (threads_per_process owns that policy); one inter-op thread."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


class OnnxDetector:
    """onnxruntime session of an exported detector.

    __call__(images (B, 3, H, W) float in [0, 1]) -> (B, A, 4 + nc) float32 on the images' device:
    boxes xyxy in input pixels, then class scores (DetectionModel's eval output).
    A graph exported with a fixed batch takes any B (chunks of that batch, the last one
    zero-padded); a fixed H x W must match, else a one-line ConfigError says how to run it.
    """

    training = False

    def __init__(self, path: str | Path, strides: list[int], device: torch.device, threads: int):
        ort = require("onnxruntime", f"weights={path}")
        providers = ["CPUExecutionProvider"]
        if device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), session_options(ort, threads), providers=providers)
        graph_input = self.session.get_inputs()[0]
        self.input_name = graph_input.name
        batch, _, height, width = graph_input.shape  # symbolic dimensions are strings
        self.fixed_batch = batch if isinstance(batch, int) else None
        self.fixed_hw = (height, width) if isinstance(height, int) and isinstance(width, int) else None
        self.strides = torch.tensor([float(s) for s in strides])

    def eval(self) -> "OnnxDetector":
        return self

    def train(self, mode: bool = True) -> "OnnxDetector":
        if mode:
            raise RuntimeError("an ONNX model cannot be trained; train the checkpoint it was exported from")
        return self

    def run(self, images: np.ndarray) -> np.ndarray:
        """images (B, 3, H, W) float32 C-contiguous -> (B, A, 4 + nc) float32, B any."""
        self._check_size(images.shape[2:])
        if self.fixed_batch is None:
            return self.session.run(None, {self.input_name: images})[0]
        outputs = []
        for start in range(0, len(images), self.fixed_batch):
            chunk = images[start : start + self.fixed_batch]
            count = len(chunk)
            if count < self.fixed_batch:
                chunk = np.concatenate([chunk, np.zeros((self.fixed_batch - count, *chunk.shape[1:]), chunk.dtype)])
            outputs.append(self.session.run(None, {self.input_name: chunk})[0][:count])
        return np.concatenate(outputs)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(images.detach().float().cpu().numpy())  # channels_last -> NCHW
        return torch.from_numpy(self.run(array)).to(images.device)

    def _check_size(self, hw: tuple[int, int]) -> None:
        if self.fixed_hw is None or tuple(hw) == self.fixed_hw:
            return
        h, w = self.fixed_hw
        raise ConfigError(f"weights={self.path} takes only {h}x{w} images (exported with dynamic=false), "
                          f"got {hw[0]}x{hw[1]}: run it at imgsz={h} (val: with rect_val=false), "
                          f"or export again with dynamic=true")
