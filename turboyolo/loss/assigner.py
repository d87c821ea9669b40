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
and those carry a zero target, so the loss is the same. The number of pairs depends on the data, so
on a GPU this costs a few host syncs per step (the dense version had one, in pad_targets).
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


@dataclass
class Candidates:
    """The P (GT, anchor whose centre is inside it) pairs of a batch, grouped by GT."""
    gt: torch.Tensor  # (P,) int64 flat index of the GT in the padded (B, M) layout
    image: torch.Tensor  # (P,) int64
    anchor: torch.Tensor  # (P,) int64
    labels: torch.Tensor  # (P,) int64 class of the GT
    boxes: torch.Tensor  # (P, 4) xyxy pixels of the GT
    batch: int  # B
    gt_slots: int  # M, GT slots per image
    num_anchors: int  # A, anchors per image


class TaskAlignedAssigner:
    """Two steps, so that predictions are decoded for the candidate pairs only:

        candidates = assigner.candidates(grid, gt_labels, gt_boxes, gt_mask)
        assignment = assigner.select(candidates, pred_boxes, class_scores)   # both per candidate pair

    or, from dense predictions, assigner(cls_logits, pred_boxes, grid, gt_labels, gt_boxes, gt_mask).
    """

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
        found = self.candidates(grid, gt_labels, gt_boxes, gt_mask)
        class_scores = cls_logits[found.image, found.labels, found.anchor].sigmoid()
        return self.select(found, pred_boxes[found.image, found.anchor], class_scores)

    def candidates(self, grid: AnchorGrid, gt_labels: torch.Tensor, gt_boxes: torch.Tensor,
                   gt_mask: torch.Tensor) -> Candidates:
        """gt_labels (B, M) int64, gt_boxes (B, M, 4) xyxy pixels, gt_mask (B, M) bool (False: padding)."""
        batch, slots = gt_mask.shape
        real = gt_mask.flatten().nonzero().squeeze(1)  # flat (B * M) index of each real GT
        pairs = grid.pairs_inside(gt_boxes.flatten(0, 1)[real], self.eps)
        gt = real[pairs.box]
        return Candidates(gt=gt, image=gt // slots, anchor=pairs.anchor, labels=gt_labels.flatten()[gt],
                          boxes=gt_boxes.flatten(0, 1)[gt], batch=batch, gt_slots=slots, num_anchors=grid.num_anchors)

    @torch.no_grad()
    def select(self, found: Candidates, pred_boxes: torch.Tensor, class_scores: torch.Tensor) -> Assignment:
        """pred_boxes (P, 4) xyxy pixels and class_scores (P,) probability of the GT's class, per pair."""
        overlap = batched_box_iou(found.boxes[:, None], pred_boxes[:, None])[:, 0, 0]  # (P,)
        alignment = class_scores.pow(self.alpha) * overlap.pow(self.beta)

        positive = self._top_k_per_gt(alignment, found.gt)
        anchor_key = found.image * found.num_anchors + found.anchor  # the anchor in the batch
        positive &= self._best_overlap_per_anchor(overlap, positive, anchor_key, found.gt, found.batch * found.num_anchors)
        gt, alignment, overlap = found.gt[positive], alignment[positive], overlap[positive]

        # soft targets: t * (best IoU of the GT) / (best t of the GT), over the GT's final positives
        gt_count = found.batch * found.gt_slots
        best_alignment = torch.zeros(gt_count, device=gt.device).scatter_reduce_(0, gt, alignment, "amax")
        best_overlap = torch.zeros(gt_count, device=gt.device).scatter_reduce_(0, gt, overlap, "amax")
        quality = alignment * best_overlap[gt] / (best_alignment[gt] + self.eps)
        return Assignment(image=found.image[positive], anchor=found.anchor[positive], gt=gt % found.gt_slots,
                          labels=found.labels[positive], boxes=found.boxes[positive], quality=quality)

    def _top_k_per_gt(self, alignment: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        """(P,) bool: each GT's topk pairs by alignment."""
        # one sort by (GT, alignment descending): non-negative float32 bit patterns order like their values
        # (abs() turns a -0.0 into +0.0)
        descending_bits = (2**31 - 1) - alignment.abs().view(torch.int32).long()
        order = (gt * 2**31 + descending_bits).argsort(stable=True)
        counts = torch.bincount(gt)
        first_of_gt = torch.cumsum(counts, 0) - counts
        rank = torch.arange(len(order), device=order.device) - first_of_gt[gt[order]]
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
        no_gt = torch.iinfo(torch.long).max
        first_gt = torch.full((size,), no_gt, device=gt.device).scatter_reduce_(
            0, anchor_key, torch.where(is_best, gt, no_gt), "amin")
        return is_best & (gt == first_gt[anchor_key])
