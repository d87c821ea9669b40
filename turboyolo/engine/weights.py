"""Weights for inference, a checkpoint (.pt) or an exported model (.onnx), read into one shape.

`val`, `predict` and the benchmarks load either through here. Both give a dict with names, spec
and args (the run config checkpoint_settings.py adopts from); an .onnx file's come from its
metadata (turboyolo/export/metadata.py). What differs is only who runs the network: PyTorch or
onnxruntime; letterbox, NMS and the metrics are the same code for both.
"""
from __future__ import annotations

from pathlib import Path

import torch

from turboyolo.engine.checkpoint import eval_model, load_checkpoint
from turboyolo.model.foreign import import_yolov8_checkpoint, is_yolov8_checkpoint

ONNX_SUFFIX = ".onnx"


def is_onnx(path: str | Path) -> bool:
    return Path(path).suffix.lower() == ONNX_SUFFIX


def load_weights(path: str | Path) -> dict:
    """A checkpoint dict (checkpoint.py; a YOLOv8 .pt imported into one), or for an .onnx file its
    metadata with the path under "onnx"."""
    if is_onnx(path):
        from turboyolo.export.metadata import read_metadata

        return read_metadata(path)
    if is_yolov8_checkpoint(path):  # an Ultralytics yolov8n.pt: imported on the fly (turboyolo/model/foreign)
        return import_yolov8_checkpoint(path)
    return load_checkpoint(path)


def inference_model(weights: dict, device: torch.device | str = "cpu",
                    memory_format: torch.memory_format = torch.contiguous_format):
    """The network of `weights` in eval mode: images (B, 3, H, W) in [0, 1] -> (B, A, 4 + nc) decoded."""
    device = torch.device(device)
    if "onnx" in weights:
        from turboyolo.export.onnx_runtime import OnnxDetector

        return OnnxDetector(weights["onnx"], weights["strides"], device, threads=torch.get_num_threads())
    return eval_model(weights, device, memory_format)
