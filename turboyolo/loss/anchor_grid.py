"""Anchor centres of all head levels, and the (GT box, anchor) pairs whose centre lies inside the box.

The task-aligned assigner only scores anchors inside a ground-truth box. Testing every anchor
against every box costs B x M x A work (about 4.5 M pairs at batch 16, 416 px, 80 boxes); on a
grid the anchors inside a box are a rectangle of cells per level, so the candidates are listed
directly: a few per cent of those pairs, then the exact test on those.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from turboyolo.model.head import make_anchors

ROUNDING_SLACK = 1e-3  # cells; float32 error of box / stride is ~1e-5 cells for images up to 10k pixels


@dataclass
class InsidePairs:
    """P (box, anchor) pairs, grouped by box (a box's pairs are consecutive, anchors ascending)."""
    box: torch.Tensor  # (P,) int64 index into the boxes given
    anchor: torch.Tensor  # (P,) int64 anchor index, levels concatenated, row-major


class AnchorGrid:
    """feature_sizes [(H_i, W_i)] and strides [s_i] (pixels) of the head levels, on `device`.

    points (A, 2) cell centres in their level's stride units; stride (A, 1) pixels;
    centres (A, 2) = points * stride, pixels. Built once per input size and kept by the loss.
    """

    def __init__(self, feature_sizes: list[tuple[int, int]], strides: list[int], device: torch.device):
        self.feature_sizes, self.strides = list(feature_sizes), list(strides)
        self.points, self.stride = make_anchors(self.feature_sizes, self.strides, device)
        self.centres = self.points * self.stride
        self.num_anchors = len(self.points)
        level_anchors = [h * w for h, w in self.feature_sizes]
        starts = torch.cumsum(torch.tensor([0] + level_anchors[:-1]), 0)
        # per level: first anchor index, stride, columns, rows; as (L,) tensors for broadcasting
        self._level_start = starts.to(device)
        self._level_stride = torch.tensor(self.strides, device=device, dtype=torch.float32)
        self._level_width = torch.tensor([w for _, w in self.feature_sizes], device=device)
        self._level_height = torch.tensor([h for h, _ in self.feature_sizes], device=device)

    def pairs_inside(self, boxes: torch.Tensor, eps: float = 1e-9) -> InsidePairs:
        """boxes (G, 4) xyxy pixels -> the pairs whose anchor centre is strictly inside (by more than eps).

        One host read (the number of pairs, which sizes the result).
        """
        # cell range per box and level: centre (i + 0.5) * s is inside for x1 / s - 0.5 < i < x2 / s - 0.5;
        # the slack takes in a cell that rounding could leave out, the exact test below drops it again
        scaled = boxes[:, None, :] / self._level_stride[None, :, None] - 0.5  # (G, L, 4)
        col_lo = (scaled[..., 0] - ROUNDING_SLACK).ceil().long().clamp(0, None)
        row_lo = (scaled[..., 1] - ROUNDING_SLACK).ceil().long().clamp(0, None)
        col_hi = torch.minimum((scaled[..., 2] + ROUNDING_SLACK).floor().long() + 1, self._level_width)  # exclusive
        row_hi = torch.minimum((scaled[..., 3] + ROUNDING_SLACK).floor().long() + 1, self._level_height)
        cols, rows = (col_hi - col_lo).clamp(min=0), (row_hi - row_lo).clamp(min=0)
        counts = (cols * rows).flatten()  # (G * L,) cells per box and level
        total = int(counts.sum())  # host read: the number of pairs is data-dependent
        block = torch.repeat_interleave(torch.arange(len(counts), device=boxes.device), counts, output_size=total)
        within = torch.arange(total, device=boxes.device) - (torch.cumsum(counts, 0) - counts)[block]
        level = block % len(self.strides)
        block_cols = cols.flatten()[block]
        row = row_lo.flatten()[block] + within // block_cols
        col = col_lo.flatten()[block] + within % block_cols
        anchor = self._level_start[level] + row * self._level_width[level] + col
        box = block // len(self.strides)

        # the exact test the dense assigner used: all four margins > eps
        centres, box_xyxy = self.centres[anchor], boxes[box]
        margins = torch.cat((centres - box_xyxy[:, :2], box_xyxy[:, 2:] - centres), dim=-1)
        keep = margins.amin(dim=-1) > eps
        return InsidePairs(box=box[keep], anchor=anchor[keep])
