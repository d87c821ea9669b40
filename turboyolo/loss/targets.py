"""Ground-truth batching: a flat (N, 6) target list -> per-image padded tensors with a validity mask.

The assigner works on dense (B, M, ...) tensors, M = most boxes in any image of the batch, so that
no Python loop over images or boxes is needed.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from turboyolo.ops.boxes import xywh_to_xyxy


@dataclass
class PaddedTargets:
    labels: torch.Tensor  # (B, M) int64 class index (0 where padded)
    boxes: torch.Tensor  # (B, M, 4) xyxy input pixels (0 where padded)
    mask: torch.Tensor  # (B, M) bool, True for real boxes


def pad_targets(targets: torch.Tensor, batch_size: int, image_hw: tuple[int, int], device: torch.device) -> PaddedTargets:
    """targets (N, 6) [batch_idx, cls, cx, cy, w, h], box normalised to the image -> PaddedTargets on device.

    M is at least 1, so a batch without boxes still has the (all-masked) dense layout. Finding M is
    the one host read of this module; it costs nothing when targets are still on the CPU (as they
    come from the data loader), so the padding is done on the targets' device and moved once.
    """
    height, width = image_hw
    image_index = targets[:, 0].long()
    counts = torch.bincount(image_index, minlength=batch_size)
    max_boxes = max(int(counts.max()), 1) if len(targets) else 1  # host read: shape depends on data
    # slot of each box inside its image: rank after a stable sort by image
    order = torch.argsort(image_index, stable=True)
    sorted_image = image_index[order]
    first_of_image = torch.cumsum(counts, 0) - counts
    slot = torch.arange(len(targets), device=targets.device) - first_of_image[sorted_image]

    dense = torch.zeros(batch_size, max_boxes, 5, device=targets.device, dtype=torch.float32)
    dense[sorted_image, slot] = targets[order, 1:].float()
    mask = torch.zeros(batch_size, max_boxes, device=targets.device, dtype=torch.bool)
    mask[sorted_image, slot] = True

    dense, mask = dense.to(device, non_blocking=True), mask.to(device, non_blocking=True)
    scale = torch.tensor([width, height, width, height], device=device, dtype=torch.float32)
    boxes = xywh_to_xyxy(dense[..., 1:5] * scale)
    return PaddedTargets(labels=dense[..., 0].long(), boxes=boxes, mask=mask)
