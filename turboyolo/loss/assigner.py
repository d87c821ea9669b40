"""Task-aligned assigner (TAL), after Feng et al. 2021, "TOOD: Task-aligned One-stage Object Detection".

For each ground-truth box (GT), the anchors whose centre lies inside it are candidates. Each is
scored by the alignment metric t = s^alpha * u^beta, s = predicted probability of the GT's class,
u = IoU of the predicted box with the GT; the top-k candidates become positives. An anchor chosen
by several GTs keeps the one its predicted box overlaps most. Class targets are soft: for a
positive anchor, t normalised so that each GT's best anchor gets that GT's best IoU.
Everything is dense over (B images, M padded GTs, A anchors); no loops over images or boxes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from turboyolo.ops.boxes import batched_box_iou


@dataclass
class Assignment:
    labels: torch.Tensor  # (B, A) int64 class of the assigned GT (meaningless where not foreground)
    boxes: torch.Tensor  # (B, A, 4) xyxy pixels of the assigned GT
    scores: torch.Tensor  # (B, A, C) soft class targets, zero rows for background
    foreground: torch.Tensor  # (B, A) bool
    gt_index: torch.Tensor  # (B, A) int64 index of the assigned GT in the padded (B, M) layout


class TaskAlignedAssigner:
    def __init__(self, num_classes: int, topk: int = 10, alpha: float = 0.5, beta: float = 6.0, eps: float = 1e-9):
        self.num_classes, self.topk, self.alpha, self.beta, self.eps = num_classes, topk, alpha, beta, eps

    @torch.no_grad()
    def __call__(
        self,
        pred_scores: torch.Tensor,  # (B, A, C) class probabilities
        pred_boxes: torch.Tensor,  # (B, A, 4) xyxy pixels
        anchor_points: torch.Tensor,  # (A, 2) anchor centres, pixels
        gt_labels: torch.Tensor,  # (B, M) int64
        gt_boxes: torch.Tensor,  # (B, M, 4) xyxy pixels
        gt_mask: torch.Tensor,  # (B, M) bool, False for padding
    ) -> Assignment:
        batch, num_anchors, _ = pred_scores.shape
        num_gt = gt_boxes.shape[1]

        # anchors whose centre is strictly inside a real GT: (B, M, A)
        gt_xy1, gt_xy2 = gt_boxes[..., None, :2], gt_boxes[..., None, 2:]
        margins = torch.cat((anchor_points - gt_xy1, gt_xy2 - anchor_points), dim=-1)
        inside = (margins.amin(dim=-1) > self.eps) & gt_mask[..., None]

        overlaps = batched_box_iou(gt_boxes, pred_boxes) * inside  # (B, M, A)
        class_index = gt_labels[..., None].expand(batch, num_gt, num_anchors)
        class_scores = pred_scores.transpose(1, 2).gather(1, class_index)  # (B, M, A) score of the GT's class
        alignment = class_scores.pow(self.alpha) * overlaps.pow(self.beta) * inside

        # top-k candidates per GT; those outside the GT (possible for tiny GTs) are dropped
        k = min(self.topk, num_anchors)
        top = alignment.topk(k, dim=-1).indices
        positive = torch.zeros_like(inside).scatter_(-1, top, True) & inside

        # an anchor picked by several GTs keeps the one it overlaps most among those
        picked_by_many = positive.sum(dim=1, keepdim=True) > 1  # (B, 1, A)
        best_gt = (overlaps * positive).argmax(dim=1, keepdim=True)  # (B, 1, A)
        best_only = torch.zeros_like(positive).scatter_(1, best_gt, True)
        positive = torch.where(picked_by_many, best_only & positive, positive)

        foreground = positive.any(dim=1)  # (B, A)
        gt_index = positive.to(torch.uint8).argmax(dim=1)  # (B, A); 0 for background
        labels = gt_labels.gather(1, gt_index)
        boxes = gt_boxes.gather(1, gt_index[..., None].expand(batch, num_anchors, 4))

        # soft targets: t * (best IoU of the GT) / (best t of the GT), per positive anchor
        alignment = alignment * positive
        best_alignment = alignment.amax(dim=-1, keepdim=True)  # (B, M, 1)
        best_overlap = (overlaps * positive).amax(dim=-1, keepdim=True)
        quality = (alignment * best_overlap / (best_alignment + self.eps)).amax(dim=1)  # (B, A)
        # one scatter instead of one_hot -> cast -> multiply: (B, A, C) is the largest tensor here
        scores = torch.zeros_like(pred_scores).scatter_(-1, labels[..., None], (quality * foreground)[..., None])
        return Assignment(labels=labels, boxes=boxes, scores=scores, foreground=foreground, gt_index=gt_index)
