"""How much arithmetic a model costs: parameters, inference FLOPs and training FLOPs per image.

FLOPs are counted by running the model once under ``torch.utils.flop_counter.FlopCounterMode``,
which counts matmul/convolution work exactly from the shapes (a multiply-add = 2 FLOPs, the
convention of the "GFLOPs" column of YOLO papers). Element-wise ops (activations, BN, adds) are
not counted: they are memory-bound and a few percent of the total for convolutional detectors.

Measurements run on a deep copy of the model, so BatchNorm statistics, gradients and the
train/eval mode of the caller's model are untouched. Pass the plain model, not a DDP wrapper.
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(model: nn.Module) -> int:
    """Number of parameters (trainable or not), counted once even if shared."""
    return sum(p.numel() for p in model.parameters())


def _image_batch(model: nn.Module, imgsz, batch: int, channels: int) -> torch.Tensor:
    height, width = (imgsz, imgsz) if isinstance(imgsz, int) else tuple(imgsz)
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    # Mid-grey rather than zeros: some heads threshold scores, and grey keeps shapes realistic.
    return torch.full((batch, channels, height, width), 0.5, device=device)


def inference_flops_per_image(model: nn.Module, imgsz, channels: int = 3) -> float:
    """FLOPs of one eval-mode forward pass for one (channels, imgsz, imgsz) image.

    imgsz: int (square) or (height, width) in pixels. Returns FLOPs (divide by 1e9 for GFLOPs).
    """
    probe = copy.deepcopy(model).eval()
    images = _image_batch(probe, imgsz, 1, channels)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        probe(images)
    return float(counter.get_total_flops())


def _synthetic_targets(batch: int, device: torch.device) -> torch.Tensor:
    """Two boxes per image, (N, 6) rows [image_index, class, x_center, y_center, width, height] in 0..1."""
    rows = []
    for index in range(batch):
        rows.append([index, 0, 0.3, 0.3, 0.2, 0.25])
        rows.append([index, 0, 0.65, 0.6, 0.4, 0.3])
    return torch.tensor(rows, dtype=torch.float32, device=device)


def train_flops_per_image(model: nn.Module, imgsz, loss_fn=None, channels: int = 3, batch: int = 2) -> float:
    """FLOPs of one training step's forward + backward (and loss), per image.

    loss_fn: called as ``loss_fn(model)`` to build a loss for the probe copy, or already built
    (then called as ``loss_fn(raw_maps, targets)`` returning ``(loss, components)`` or a loss).
    Without a loss the raw maps are summed, which costs nothing next to the network.
    The optimizer update (a few FLOPs per parameter) is not counted.
    """
    probe = copy.deepcopy(model).train()
    images = _image_batch(probe, imgsz, batch, channels)
    if isinstance(loss_fn, type):
        loss_fn = loss_fn(probe)
    with FlopCounterMode(display=False) as counter:
        outputs = probe(images)
        if loss_fn is not None:
            result = loss_fn(outputs, _synthetic_targets(batch, images.device))
            loss = result[0] if isinstance(result, (tuple, list)) else result
        else:
            maps = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            loss = sum(m.float().sum() for m in maps)
        loss.sum().backward()
    return float(counter.get_total_flops()) / batch


def model_flops_utilization(train_flops_per_image: float, images_per_s: float, peak_flops_per_s: float) -> float:
    """Achieved training FLOP/s over the device peak (0..1; MFU). 0 when the peak is unknown."""
    if peak_flops_per_s <= 0:
        return 0.0
    return train_flops_per_image * images_per_s / peak_flops_per_s
