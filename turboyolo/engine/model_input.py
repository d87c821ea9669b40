"""How a batch of images becomes model input: on the device, in the memory format, float in [0, 1].

Training, validation and prediction all call this one function, so the model sees the same input
in all three.
"""
from __future__ import annotations

import torch


def to_model_input(images: torch.Tensor, device: torch.device, memory_format: torch.memory_format) -> torch.Tensor:
    """images: (B, 3, H, W) uint8 RGB, as the loader collates them -> (B, 3, H, W) float32 in [0, 1] on `device`.

    Copied as uint8 (4x fewer bytes than float) and converted on the device; non_blocking overlaps
    the copy from pinned memory with the work already queued.
    """
    return images.to(device, non_blocking=True).to(memory_format=memory_format).float().div_(255)


def cpu_model_input(images: torch.Tensor) -> torch.Tensor:
    """The same conversion for work that stays on the CPU in the default layout: ONNX export and its
    checks, int8 calibration, pruning's Taylor scores."""
    return to_model_input(images, torch.device("cpu"), torch.contiguous_format)
