"""Box regression losses: CIoU on the decoded boxes and distribution focal loss on the DFL logits.

Both work on any leading shape and weight each box; the detection loss passes the foreground
anchors only (F of them, a few per cent of all anchors), weighted by their soft class target.
All boxes here are in stride units (grid cells of their own level), as the DFL bins are.
"""
from __future__ import annotations

import torch

from turboyolo.ops.boxes import ciou


def ciou_loss(pred_boxes: torch.Tensor, target_boxes: torch.Tensor, weights: torch.Tensor, normaliser: torch.Tensor) -> torch.Tensor:
    """sum over anchors of weight * (1 - CIoU) / normaliser.

    pred_boxes, target_boxes (..., 4) xyxy; weights (...); a zero-weight box must still be finite and
    non-degenerate, so that 0 * gradient stays 0.
    """
    return ((1.0 - ciou(pred_boxes, target_boxes)) * weights).sum() / normaliser


def distribution_focal_loss(
    dist_logits: torch.Tensor, target_distances: torch.Tensor, weights: torch.Tensor, normaliser: torch.Tensor
) -> torch.Tensor:
    """DFL (Li et al. 2020): cross-entropy towards the two bins around each continuous target.

    dist_logits (..., 4 * reg_max); target_distances (..., 4) ltrb in stride units;
    weights (...). A target t between bins i and i+1 gets weights (i+1-t) and (t-i) on them,
    so the distribution's expectation is pulled to exactly t. Averaged over the 4 sides.
    """
    reg_max = dist_logits.shape[-1] // 4
    log_probs = dist_logits.unflatten(-1, (4, reg_max)).log_softmax(dim=-1)  # (B, A, 4, R)
    target = target_distances.clamp(0, reg_max - 1 - 0.01)  # keep i+1 a valid bin
    left = target.long()
    left_weight = (left + 1) - target
    nll = -(
        log_probs.gather(-1, left[..., None]).squeeze(-1) * left_weight
        + log_probs.gather(-1, (left + 1)[..., None]).squeeze(-1) * (1 - left_weight)
    )  # (B, A, 4)
    return (nll.mean(dim=-1) * weights).sum() / normaliser


def boxes_to_distances(boxes: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """boxes (..., A, 4) xyxy around points (A, 2) -> (..., A, 4) ltrb distances, same units."""
    return torch.cat((points - boxes[..., :2], boxes[..., 2:] - points), dim=-1)
