"""Task-aligned assigner (TAL), after Feng et al. 2021, "TOOD: Task-aligned One-stage Object Detection".

For each ground-truth box (GT), the anchors whose centre lies inside it are candidates. Each is
scored by the alignment metric t = s^alpha * u^beta, s = predicted probability of the GT's class,
u = IoU of the predicted box with the GT; the top-k candidates become positives. An anchor chosen
by several GTs keeps the one its predicted box overlaps most. Class targets are soft: for a
positive anchor, t normalised so that each GT's best anchor gets that GT's best IoU.

Sparse: only the (GT, anchor-inside-it) pairs are ever scored (AnchorGrid.pairs_inside), a few per
cent of the dense B x M x A grid, and the result lists the foreground anchors only. No loops over
images or boxes. Results equal the dense formulation's (tests/loss/test_loss_equivalence.py); only
which zero-alignment candidates fill a GT's top-k when it has fewer than k scoring ones may differ,
and those carry a zero target, so the loss is the same.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from turboyolo.loss.anchor_grid import AnchorGrid
from turboyolo.ops.boxes import batched_box_iou


@dataclass
class Assignment:
    """The F foreground anchors of a batch (every other anchor is background)."""
    image: torch.Tensor  # (F,) int64 image in the batch
    anchor: torch.Tensor  # (F,) int64 anchor index
    gt: torch.Tensor  # (F,) int64 slot of the assigned GT in its image's padded (B, M) row
    labels: torch.Tensor  # (F,) int64 class of the assigned GT
    boxes: torch.Tensor  # (F, 4) xyxy pixels of the assigned GT
    quality: torch.Tensor  # (F,) soft class target of the assigned class, in [0, 1]


class TaskAlignedAssigner:
    def __init__(self, num_classes: int, topk: int = 10, alpha: float = 0.5, beta: float = 6.0, eps: float = 1e-9):
        self.num_classes, self.topk, self.alpha, self.beta, self.eps = num_classes, topk, alpha, beta, eps

    @torch.no_grad()
    def __call__(
        self,
        cls_logits: torch.Tensor,  # (B, C, A) class logits
        pred_boxes: torch.Tensor,  # (B, A, 4) xyxy pixels
        grid: AnchorGrid,
        gt_labels: torch.Tensor,  # (B, M) int64
        gt_boxes: torch.Tensor,  # (B, M, 4) xyxy pixels
        gt_mask: torch.Tensor,  # (B, M) bool, False for padding
    ) -> Assignment:
        num_gt, num_anchors = gt_boxes.shape[1], grid.num_anchors
        real = gt_mask.flatten().nonzero().squeeze(1)  # flat (B * M) index of each real GT
        pairs = grid.pairs_inside(gt_boxes.flatten(0, 1)[real], self.eps)
        gt = real[pairs.box]  # (P,) flat GT index of each candidate pair
        image, anchor = gt // num_gt, pairs.anchor
        label = gt_labels.flatten()[gt]

        gt_box = gt_boxes.flatten(0, 1)[gt]
        overlap = batched_box_iou(gt_box[:, None], pred_boxes[image, anchor][:, None])[:, 0, 0]  # (P,)
        class_score = cls_logits[image, label, anchor].sigmoid()
        alignment = class_score.pow(self.alpha) * overlap.pow(self.beta)

        positive = self._top_k_per_gt(alignment, pairs.box)
        anchor_key = image * num_anchors + anchor  # the anchor in the batch
        positive &= self._best_overlap_per_anchor(overlap, positive, anchor_key, gt, gt_mask.shape[0] * num_anchors)
        gt, image, anchor, label, gt_box = gt[positive], image[positive], anchor[positive], label[positive], gt_box[positive]
        alignment, overlap = alignment[positive], overlap[positive]

        # soft targets: t * (best IoU of the GT) / (best t of the GT), over the GT's final positives
        best_alignment = torch.zeros(gt_mask.numel(), device=gt.device).scatter_reduce_(0, gt, alignment, "amax")
        best_overlap = torch.zeros(gt_mask.numel(), device=gt.device).scatter_reduce_(0, gt, overlap, "amax")
        quality = alignment * best_overlap[gt] / (best_alignment[gt] + self.eps)
        return Assignment(image=image, anchor=anchor, gt=gt % num_gt, labels=label, boxes=gt_box, quality=quality)

    def _top_k_per_gt(self, alignment: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
        """(P,) bool: among the pairs of each group (consecutive, group ids ascending), the topk by alignment."""
        by_alignment = alignment.argsort(descending=True, stable=True)
        order = by_alignment[group[by_alignment].argsort(stable=True)]  # by group, then alignment descending
        counts = torch.bincount(group)
        first_of_group = torch.cumsum(counts, 0) - counts
        rank = torch.arange(len(order), device=order.device) - first_of_group[group[order]]
        positive = torch.zeros_like(alignment, dtype=torch.bool)
        positive[order] = rank < self.topk
        return positive

    @staticmethod
    def _best_overlap_per_anchor(overlap, positive, anchor_key, gt, size: int) -> torch.Tensor:
        """(P,) bool: the pair is its anchor's best-overlapping positive GT (ties: the lowest GT slot).

        anchor_key (P,) in [0, size) identifies the anchor in the batch."""
        candidate_overlap = torch.where(positive, overlap, -1.0)
        best = torch.full((size,), -1.0, device=overlap.device).scatter_reduce_(0, anchor_key, candidate_overlap, "amax")
        is_best = positive & (candidate_overlap == best[anchor_key])
        first_gt = torch.full((size,), torch.iinfo(torch.long).max, device=gt.device).scatter_reduce_(
            0, anchor_key, torch.where(is_best, gt, torch.iinfo(torch.long).max), "amin")
        return is_best & (gt == first_gt[anchor_key])
