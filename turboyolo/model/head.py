"""Anchor-free decoupled detection head with distribution focal loss (DFL) box regression.

For every feature level (stride s) and every grid cell, the head predicts
  * 4 * reg_max logits: for each box side (left, top, right, bottom) a distribution over the
    distances 0 .. reg_max-1 (in units of s) from the cell centre to that side (Li et al. 2020,
    "Generalized Focal Loss"); the box side is the expectation of that distribution;
  * num_classes logits (independent sigmoids, no objectness).
Box and class branches are separate conv towers ("decoupled"). One "anchor" = one grid cell centre.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from turboyolo.model.blocks import ConvBnSiLU


def flatten_maps(raw_maps: list[torch.Tensor]) -> torch.Tensor:
    """Per-level raw maps (B, C, H_i, W_i) -> (B, A, C), A = sum H_i * W_i, level by level, row-major."""
    return torch.cat([m.flatten(2) for m in raw_maps], dim=2).transpose(1, 2)


def make_anchors(
    feature_sizes: list[tuple[int, int]], strides: list[int], device=None, dtype=torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Grid-cell centres of all levels.

    Returns points (A, 2) as (x, y) in units of their level's stride (cell i has centre i + 0.5),
    and stride (A, 1) in pixels; points * stride gives centres in input pixels.
    """
    points, stride_per_anchor = [], []
    for (height, width), stride in zip(feature_sizes, strides):
        ys = torch.arange(height, device=device, dtype=dtype) + 0.5
        xs = torch.arange(width, device=device, dtype=dtype) + 0.5
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        points.append(torch.stack((grid_x, grid_y), dim=-1).reshape(-1, 2))
        stride_per_anchor.append(torch.full((height * width, 1), float(stride), device=device, dtype=dtype))
    return torch.cat(points), torch.cat(stride_per_anchor)


def expected_distances(dist_logits: torch.Tensor, reg_max: int) -> torch.Tensor:
    """(..., 4 * reg_max) DFL logits -> (..., 4) expected ltrb distances in stride units, in [0, reg_max-1]."""
    probs = dist_logits.unflatten(-1, (4, reg_max)).softmax(dim=-1)
    bins = torch.arange(reg_max, device=dist_logits.device, dtype=probs.dtype)
    return probs @ bins


def distances_to_boxes(distances: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """ltrb distances (..., A, 4) around points (A, 2) -> boxes (..., A, 4) xyxy, same units."""
    left_top, right_bottom = distances.split(2, dim=-1)
    return torch.cat((points - left_top, points + right_bottom), dim=-1)


class DetectHead(nn.Module):
    """Decoupled head over feature levels with channels `in_channels` and `strides` (pixels).

    forward(features: list of (B, c_i, H_i, W_i)) -> list of raw maps (B, 4*reg_max + nc, H_i, W_i).
    decode(raw_maps) -> (B, A, 4 + nc): xyxy boxes in input pixels, then sigmoid class scores.
    """

    def __init__(self, in_channels: list[int], num_classes: int, reg_max: int, strides: list[int]):
        super().__init__()
        self.num_classes, self.reg_max = num_classes, reg_max
        # tower widths follow the YOLOv8 description: box tower >= 4*reg_max, class tower >= min(nc, 100)
        box_width = max(16, in_channels[0] // 4, 4 * reg_max)
        cls_width = max(in_channels[0], min(num_classes, 100))
        self.box_towers = nn.ModuleList(
            nn.Sequential(ConvBnSiLU(c, box_width, 3), ConvBnSiLU(box_width, box_width, 3), nn.Conv2d(box_width, 4 * reg_max, 1))
            for c in in_channels
        )
        self.cls_towers = nn.ModuleList(
            nn.Sequential(ConvBnSiLU(c, cls_width, 3), ConvBnSiLU(cls_width, cls_width, 3), nn.Conv2d(cls_width, num_classes, 1))
            for c in in_channels
        )
        self.level_strides = [int(s) for s in strides]  # Python ints: no device sync when decoding
        self.register_buffer("strides", torch.tensor(self.level_strides, dtype=torch.float32))
        self.initialise_biases()

    def initialise_biases(self, reference_size: int = 640) -> None:
        """Start near the final solution so early training is stable and fast.

        Class bias: prior probability of ~5 objects per image of size `reference_size`, spread over
        nc classes and all (reference_size/s)^2 cells of a level, i.e. log(5 / nc / (size/s)^2)
        (close to the logit of that tiny prior). Box bias 1.0: a flat-ish distance distribution.
        """
        for box_tower, cls_tower, stride in zip(self.box_towers, self.cls_towers, self.level_strides):
            nn.init.constant_(box_tower[-1].bias, 1.0)
            prior = 5 / self.num_classes / (reference_size / stride) ** 2
            nn.init.constant_(cls_tower[-1].bias, math.log(prior))

    def class_outputs(self) -> list[nn.Conv2d]:
        """The last conv of each class tower: one output channel per class (rows follow `names`)."""
        return [cls_tower[-1] for cls_tower in self.cls_towers]

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        return [
            torch.cat((box_tower(x), cls_tower(x)), dim=1)
            for x, box_tower, cls_tower in zip(features, self.box_towers, self.cls_towers)
        ]

    def decode(self, raw_maps: list[torch.Tensor]) -> torch.Tensor:
        """Raw maps -> (B, A, 4 + nc) float32: boxes xyxy in input pixels and class probabilities.

        Always fp32, also under autocast: bf16 pixel coordinates would be off by up to 2 px at 500 px.
        """
        with torch.autocast(device_type=raw_maps[0].device.type, enabled=False):
            return self._decode_fp32([m.float() for m in raw_maps])

    def _decode_fp32(self, raw_maps: list[torch.Tensor]) -> torch.Tensor:
        flat = flatten_maps(raw_maps)
        points, stride = make_anchors([m.shape[-2:] for m in raw_maps], self.level_strides, flat.device, flat.dtype)
        dist_logits, cls_logits = flat.split((4 * self.reg_max, self.num_classes), dim=-1)
        boxes = distances_to_boxes(expected_distances(dist_logits, self.reg_max), points) * stride
        return torch.cat((boxes, cls_logits.sigmoid()), dim=-1)
