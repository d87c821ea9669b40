"""DetectionLoss: raw head maps + ground truth -> training loss (YOLOv8-style recipe).

    loss_fn = DetectionLoss(model)
    loss, components = loss_fn(model(images), targets)   # model in train mode
    loss.backward()

box = CIoU loss, cls = BCE against the assigner's soft targets, dfl = distribution focal loss;
each is normalised by the sum of the soft class targets and multiplied by its gain. `loss` is
(box + cls + dfl) * batch size (the YOLOv8 convention: gradients scale with the batch, which the
default learning rates assume); `components` is the detached (3,) tensor of the weighted
[box, cls, dfl] terms, for logging.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from turboyolo.config import default_of
from turboyolo.loss.assigner import TaskAlignedAssigner
from turboyolo.loss.box_loss import boxes_to_distances, ciou_loss, distribution_focal_loss
from turboyolo.loss.targets import pad_targets
from turboyolo.model.head import distances_to_boxes, expected_distances, flatten_maps, make_anchors


def unwrap_model(model: nn.Module) -> nn.Module:
    """The DetectionModel behind DDP/FSDP (`.module`) or torch.compile (`._orig_mod`) wrappers."""
    while True:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if inner is None:
            return model
        model = inner


class DetectionLoss:
    """Gains box, cls, dfl and the assigner's topk, alpha, beta are the config keys box, cls, dfl,
    tal_topk, tal_alpha, tal_beta; left out, they take those keys' documented defaults."""

    def __init__(self, model: nn.Module, box: float = default_of("box"), cls: float = default_of("cls"),
                 dfl: float = default_of("dfl"), topk: int = default_of("tal_topk"),
                 alpha: float = default_of("tal_alpha"), beta: float = default_of("tal_beta")):
        detector = unwrap_model(model)
        self.num_classes = int(detector.num_classes)
        self.reg_max = int(detector.reg_max)
        self.strides = [int(s) for s in detector.strides.tolist()]  # once, here, not per step
        self.gains = (float(box), float(cls), float(dfl))
        self.assigner = TaskAlignedAssigner(self.num_classes, topk=topk, alpha=alpha, beta=beta)

    @classmethod
    def from_config(cls, model: nn.Module, cfg) -> "DetectionLoss":
        """The loss the run config describes (what training and `bench model` use)."""
        return cls(model, box=cfg.box, cls=cfg.cls, dfl=cfg.dfl, topk=cfg.tal_topk, alpha=cfg.tal_alpha,
                   beta=cfg.tal_beta)

    def __call__(self, raw_maps: list[torch.Tensor], targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """raw_maps: per stride (B, 4*reg_max + nc, H/s, W/s), any float dtype;
        targets (N, 6) [batch_idx, cls, cx, cy, w, h] normalised to the input image (CPU preferred:
        see pad_targets). -> (loss scalar to backward, detached (3,) [box, cls, dfl])."""
        device = raw_maps[0].device
        # the loss is always fp32 (bf16 logits lose too much in log-softmax / BCE sums)
        with torch.autocast(device_type=device.type, enabled=False):
            return self._compute([m.float() for m in raw_maps], targets)

    def _compute(self, raw_maps: list[torch.Tensor], targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch = raw_maps[0].shape[0]
        device = raw_maps[0].device
        sizes = [tuple(m.shape[-2:]) for m in raw_maps]
        image_hw = (sizes[0][0] * self.strides[0], sizes[0][1] * self.strides[0])

        flat = flatten_maps(raw_maps)  # (B, A, 4R + C)
        dist_logits, cls_logits = flat.split((4 * self.reg_max, self.num_classes), dim=-1)
        points, stride = make_anchors(sizes, self.strides, device)  # (A, 2) stride units, (A, 1) pixels
        pred_boxes = distances_to_boxes(expected_distances(dist_logits, self.reg_max), points)  # stride units

        gt = pad_targets(targets, batch, image_hw, device)
        assigned = self.assigner(
            cls_logits.detach().sigmoid(), pred_boxes.detach() * stride, points * stride, gt.labels, gt.boxes, gt.mask
        )
        quality = assigned.scores.sum(dim=-1)  # (B, A): soft target of the assigned class, 0 for background
        normaliser = quality.sum().clamp(min=1.0)

        cls_loss = F.binary_cross_entropy_with_logits(cls_logits, assigned.scores, reduction="sum") / normaliser

        foreground = assigned.foreground[..., None]
        # background anchors get a harmless unit box around their centre (weights are 0 there)
        unit_box = torch.cat((points - 0.5, points + 0.5), dim=-1)
        target_boxes = torch.where(foreground, assigned.boxes / stride, unit_box)
        weights = quality * assigned.foreground  # (B, A)
        box_loss = ciou_loss(pred_boxes, target_boxes, weights, normaliser)
        dfl_loss = distribution_focal_loss(dist_logits, boxes_to_distances(target_boxes, points), weights, normaliser)

        box_gain, cls_gain, dfl_gain = self.gains
        components = torch.stack((box_loss * box_gain, cls_loss * cls_gain, dfl_loss * dfl_gain))
        return components.sum() * batch, components.detach()
