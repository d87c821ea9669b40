"""Frozen copy of the detection loss as it was before the issue 13 speed-up (commit 34ce8e2).

The oracle for tests/loss/test_loss_equivalence.py: the fast loss must give the same loss value,
gradients and assignments on fixed inputs. Self-contained (its box and anchor helpers are copied
too), so later changes to turboyolo cannot move the oracle. Do not optimise or "fix" this file.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


# --- helpers, as in turboyolo/ops/boxes.py and turboyolo/model/head.py at 34ce8e2 ---

def _xywh_to_xyxy(boxes):
    out = boxes.clone()
    half_w, half_h = boxes[..., 2] / 2, boxes[..., 3] / 2
    out[..., 0] = boxes[..., 0] - half_w
    out[..., 1] = boxes[..., 1] - half_h
    out[..., 2] = boxes[..., 0] + half_w
    out[..., 3] = boxes[..., 1] + half_h
    return out


def _box_area(boxes):
    return (boxes[..., 2] - boxes[..., 0]).clamp(min=0) * (boxes[..., 3] - boxes[..., 1]).clamp(min=0)


def _batched_box_iou(a, b, eps=1e-9):
    a, b = a.unsqueeze(-2), b.unsqueeze(-3)
    top_left = torch.maximum(a[..., :2], b[..., :2])
    bottom_right = torch.minimum(a[..., 2:], b[..., 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(-1)
    return inter / (_box_area(a) + _box_area(b) - inter + eps)


def _ciou(a, b, eps=1e-7):
    w1, h1 = a[..., 2] - a[..., 0], (a[..., 3] - a[..., 1]).clamp(min=eps)
    w2, h2 = b[..., 2] - b[..., 0], (b[..., 3] - b[..., 1]).clamp(min=eps)
    inter = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0) * (
        torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])
    ).clamp(min=0)
    union = w1 * h1 + w2 * h2 - inter + eps
    iou = inter / union
    cw = torch.maximum(a[..., 2], b[..., 2]) - torch.minimum(a[..., 0], b[..., 0])
    ch = torch.maximum(a[..., 3], b[..., 3]) - torch.minimum(a[..., 1], b[..., 1])
    diag2 = cw.pow(2) + ch.pow(2) + eps
    centre2 = ((b[..., 0] + b[..., 2] - a[..., 0] - a[..., 2]).pow(2) + (b[..., 1] + b[..., 3] - a[..., 1] - a[..., 3]).pow(2)) / 4
    v = (4 / math.pi**2) * (torch.atan(w2 / h2) - torch.atan(w1 / h1)).pow(2)
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return iou - (centre2 / diag2 + v * alpha)


def _flatten_maps(raw_maps):
    return torch.cat([m.flatten(2) for m in raw_maps], dim=2).transpose(1, 2)


def _make_anchors(feature_sizes, strides, device=None, dtype=torch.float32):
    points, stride_per_anchor = [], []
    for (height, width), stride in zip(feature_sizes, strides):
        ys = torch.arange(height, device=device, dtype=dtype) + 0.5
        xs = torch.arange(width, device=device, dtype=dtype) + 0.5
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        points.append(torch.stack((grid_x, grid_y), dim=-1).reshape(-1, 2))
        stride_per_anchor.append(torch.full((height * width, 1), float(stride), device=device, dtype=dtype))
    return torch.cat(points), torch.cat(stride_per_anchor)


def _expected_distances(dist_logits, reg_max):
    probs = dist_logits.unflatten(-1, (4, reg_max)).softmax(dim=-1)
    bins = torch.arange(reg_max, device=dist_logits.device, dtype=probs.dtype)
    return probs @ bins


def _distances_to_boxes(distances, points):
    left_top, right_bottom = distances.split(2, dim=-1)
    return torch.cat((points - left_top, points + right_bottom), dim=-1)


# --- turboyolo/loss/targets.py ---

@dataclass
class PaddedTargets:
    labels: torch.Tensor
    boxes: torch.Tensor
    mask: torch.Tensor


def pad_targets(targets, batch_size, image_hw, device):
    height, width = image_hw
    image_index = targets[:, 0].long()
    counts = torch.bincount(image_index, minlength=batch_size)
    max_boxes = max(int(counts.max()), 1) if len(targets) else 1
    order = torch.argsort(image_index, stable=True)
    sorted_image = image_index[order]
    first_of_image = torch.cumsum(counts, 0) - counts
    slot = torch.arange(len(targets), device=targets.device) - first_of_image[sorted_image]
    dense = torch.zeros(batch_size, max_boxes, 5, device=targets.device, dtype=torch.float32)
    dense[sorted_image, slot] = targets[order, 1:].float()
    mask = torch.zeros(batch_size, max_boxes, device=targets.device, dtype=torch.bool)
    mask[sorted_image, slot] = True
    dense, mask = dense.to(device), mask.to(device)
    scale = torch.tensor([width, height, width, height], device=device, dtype=torch.float32)
    boxes = _xywh_to_xyxy(dense[..., 1:5] * scale)
    return PaddedTargets(labels=dense[..., 0].long(), boxes=boxes, mask=mask)


# --- turboyolo/loss/assigner.py ---

@dataclass
class Assignment:
    labels: torch.Tensor
    boxes: torch.Tensor
    scores: torch.Tensor
    foreground: torch.Tensor
    gt_index: torch.Tensor


class TaskAlignedAssigner:
    def __init__(self, num_classes, topk=10, alpha=0.5, beta=6.0, eps=1e-9):
        self.num_classes, self.topk, self.alpha, self.beta, self.eps = num_classes, topk, alpha, beta, eps

    @torch.no_grad()
    def __call__(self, pred_scores, pred_boxes, anchor_points, gt_labels, gt_boxes, gt_mask):
        batch, num_anchors, _ = pred_scores.shape
        num_gt = gt_boxes.shape[1]
        gt_xy1, gt_xy2 = gt_boxes[..., None, :2], gt_boxes[..., None, 2:]
        margins = torch.cat((anchor_points - gt_xy1, gt_xy2 - anchor_points), dim=-1)
        inside = (margins.amin(dim=-1) > self.eps) & gt_mask[..., None]
        overlaps = _batched_box_iou(gt_boxes, pred_boxes) * inside
        class_index = gt_labels[..., None].expand(batch, num_gt, num_anchors)
        class_scores = pred_scores.transpose(1, 2).gather(1, class_index)
        alignment = class_scores.pow(self.alpha) * overlaps.pow(self.beta) * inside
        k = min(self.topk, num_anchors)
        top = alignment.topk(k, dim=-1).indices
        positive = torch.zeros_like(inside).scatter_(-1, top, True) & inside
        picked_by_many = positive.sum(dim=1, keepdim=True) > 1
        best_gt = (overlaps * positive).argmax(dim=1, keepdim=True)
        best_only = torch.zeros_like(positive).scatter_(1, best_gt, True)
        positive = torch.where(picked_by_many, best_only & positive, positive)
        foreground = positive.any(dim=1)
        gt_index = positive.to(torch.uint8).argmax(dim=1)
        labels = gt_labels.gather(1, gt_index)
        boxes = gt_boxes.gather(1, gt_index[..., None].expand(batch, num_anchors, 4))
        alignment = alignment * positive
        best_alignment = alignment.amax(dim=-1, keepdim=True)
        best_overlap = (overlaps * positive).amax(dim=-1, keepdim=True)
        quality = (alignment * best_overlap / (best_alignment + self.eps)).amax(dim=1)
        scores = torch.zeros_like(pred_scores).scatter_(-1, labels[..., None], (quality * foreground)[..., None])
        return Assignment(labels=labels, boxes=boxes, scores=scores, foreground=foreground, gt_index=gt_index)


# --- turboyolo/loss/box_loss.py ---

def ciou_loss(pred_boxes, target_boxes, weights, normaliser):
    return ((1.0 - _ciou(pred_boxes, target_boxes)) * weights).sum() / normaliser


def distribution_focal_loss(dist_logits, target_distances, weights, normaliser):
    reg_max = dist_logits.shape[-1] // 4
    log_probs = dist_logits.unflatten(-1, (4, reg_max)).log_softmax(dim=-1)
    target = target_distances.clamp(0, reg_max - 1 - 0.01)
    left = target.long()
    left_weight = (left + 1) - target
    nll = -(
        log_probs.gather(-1, left[..., None]).squeeze(-1) * left_weight
        + log_probs.gather(-1, (left + 1)[..., None]).squeeze(-1) * (1 - left_weight)
    )
    return (nll.mean(dim=-1) * weights).sum() / normaliser


def boxes_to_distances(boxes, points):
    return torch.cat((points - boxes[..., :2], boxes[..., 2:] - points), dim=-1)


# --- turboyolo/loss/detection_loss.py ---

class FrozenDetectionLoss:
    """(raw_maps, targets) -> (loss, components), and `last_assignment` for the equivalence test."""

    def __init__(self, num_classes, reg_max, strides, box=7.5, cls=0.5, dfl=1.5, topk=10, alpha=0.5, beta=6.0):
        self.num_classes, self.reg_max, self.strides = num_classes, reg_max, list(strides)
        self.gains = (float(box), float(cls), float(dfl))
        self.assigner = TaskAlignedAssigner(num_classes, topk=topk, alpha=alpha, beta=beta)
        self.last_assignment = None

    def __call__(self, raw_maps, targets):
        device = raw_maps[0].device
        with torch.autocast(device_type=device.type, enabled=False):
            return self._compute([m.float() for m in raw_maps], targets)

    def _compute(self, raw_maps, targets):
        batch = raw_maps[0].shape[0]
        device = raw_maps[0].device
        sizes = [tuple(m.shape[-2:]) for m in raw_maps]
        image_hw = (sizes[0][0] * self.strides[0], sizes[0][1] * self.strides[0])
        flat = _flatten_maps(raw_maps)
        dist_logits, cls_logits = flat.split((4 * self.reg_max, self.num_classes), dim=-1)
        points, stride = _make_anchors(sizes, self.strides, device)
        pred_boxes = _distances_to_boxes(_expected_distances(dist_logits, self.reg_max), points)
        gt = pad_targets(targets, batch, image_hw, device)
        assigned = self.assigner(
            cls_logits.detach().sigmoid(), pred_boxes.detach() * stride, points * stride, gt.labels, gt.boxes, gt.mask
        )
        self.last_assignment = assigned
        quality = assigned.scores.sum(dim=-1)
        normaliser = quality.sum().clamp(min=1.0)
        cls_loss = F.binary_cross_entropy_with_logits(cls_logits, assigned.scores, reduction="sum") / normaliser
        foreground = assigned.foreground[..., None]
        unit_box = torch.cat((points - 0.5, points + 0.5), dim=-1)
        target_boxes = torch.where(foreground, assigned.boxes / stride, unit_box)
        weights = quality * assigned.foreground
        box_loss = ciou_loss(pred_boxes, target_boxes, weights, normaliser)
        dfl_loss = distribution_focal_loss(dist_logits, boxes_to_distances(target_boxes, points), weights, normaliser)
        box_gain, cls_gain, dfl_gain = self.gains
        components = torch.stack((box_loss * box_gain, cls_loss * cls_gain, dfl_loss * dfl_gain))
        return components.sum() * batch, components.detach()
