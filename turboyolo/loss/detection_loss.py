"""DetectionLoss: raw head maps + ground truth -> training loss (YOLOv8-style recipe).

    loss_fn = DetectionLoss(model)
    loss, components = loss_fn(model(images), targets)   # model in train mode
    loss.backward()

box = CIoU loss, cls = BCE against the assigner's soft targets, dfl = distribution focal loss;
each is normalised by the sum of the soft class targets and multiplied by its gain. `loss` is
(box + cls + dfl) * batch size (the YOLOv8 convention: gradients scale with the batch, which the
default learning rates assume); `components` is the detached (3,) tensor of the weighted
[box, cls, dfl] terms, for logging.

Cost (issue 13): nothing here is dense over batch x boxes x anchors. The assigner scores only the
anchors inside each box, predictions are decoded for those alone, and the box terms run on the
foreground anchors; the only dense work is the class logits' BCE and one gradient buffer.
"""
from __future__ import annotations

import torch
from torch import nn

from turboyolo.config import default_of
from turboyolo.loss.anchor_grid import AnchorGrid
from turboyolo.loss.assigner import Assignment, TaskAlignedAssigner
from turboyolo.loss.box_loss import boxes_to_distances, ciou_loss, distribution_focal_loss
from turboyolo.loss.foreground_rows import softplus_sum_and_rows
from turboyolo.loss.targets import pad_targets
from turboyolo.model.head import distances_to_boxes, expected_distances


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
        self._grids: dict = {}  # (feature sizes, device) -> AnchorGrid

    @classmethod
    def from_config(cls, model: nn.Module, cfg) -> "DetectionLoss":
        """The loss the run config describes (what training and `bench model` use)."""
        return cls(model, box=cfg.box, cls=cfg.cls, dfl=cfg.dfl, topk=cfg.tal_topk, alpha=cfg.tal_alpha,
                   beta=cfg.tal_beta)

    def __call__(self, raw_maps: list[torch.Tensor], targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """raw_maps: per stride (B, 4*reg_max + nc, H/s, W/s), any float dtype;
        targets (N, 6) [batch_idx, cls, cx, cy, w, h] normalised to the input image (CPU preferred:
        see pad_targets). -> (loss scalar to backward, detached (3,) [box, cls, dfl])."""
        # the loss is always fp32 (bf16 logits lose too much in log-softmax / BCE sums)
        with torch.autocast(device_type=raw_maps[0].device.type, enabled=False):
            maps, grid = self._flatten(raw_maps)
            return self._compute(maps, grid, self._assign(maps, grid, targets))

    def _flatten(self, raw_maps: list[torch.Tensor]) -> tuple[torch.Tensor, AnchorGrid]:
        """-> (B, 4R + C, A) maps in their own dtype, levels concatenated, and the anchor grid of this
        input size (built once per size). Only what the loss reads from them is made fp32: the dense
        class logits and the rows of the candidate anchors, not a full fp32 copy of the maps."""
        sizes = tuple(tuple(m.shape[-2:]) for m in raw_maps)
        key = (sizes, raw_maps[0].device)
        if key not in self._grids:
            self._grids[key] = AnchorGrid(list(sizes), self.strides, raw_maps[0].device)
        return torch.cat([m.flatten(2) for m in raw_maps], dim=2), self._grids[key]

    def _decode(self, dist_logits: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """DFL logits (N, 4R) of N anchors at points (N, 2) -> predicted boxes (N, 4) xyxy in stride units."""
        return distances_to_boxes(expected_distances(dist_logits, self.reg_max), points)

    def _assign(self, maps: torch.Tensor, grid: AnchorGrid, targets: torch.Tensor) -> Assignment:
        height, width = grid.feature_sizes[0]
        gt = pad_targets(targets, maps.shape[0], (height * self.strides[0], width * self.strides[0]), maps.device)
        found = self.assigner.candidates(grid, gt.labels, gt.boxes, gt.mask)
        with torch.no_grad():  # predictions for the candidate pairs only
            dist_logits = maps[found.image, :4 * self.reg_max, found.anchor].float()
            pred_boxes = self._decode(dist_logits, grid.points[found.anchor]) * grid.stride[found.anchor]  # pixels
            class_logits = maps[found.image, 4 * self.reg_max + found.labels, found.anchor].float()
        return self.assigner.select(found, pred_boxes, class_logits.sigmoid())

    def _compute(self, maps: torch.Tensor, grid: AnchorGrid, assigned: Assignment) -> tuple[torch.Tensor, torch.Tensor]:
        batch = maps.shape[0]
        quality = assigned.quality  # (F,) soft target of the assigned class
        normaliser = quality.sum().clamp(min=1.0)

        # BCE(x, t) = softplus(x) - x * t: the dense part needs no target tensor, the t term is foreground only
        softplus_sum, rows = softplus_sum_and_rows(maps, 4 * self.reg_max, assigned.image, assigned.anchor)
        foreground_logits = rows[:, 4 * self.reg_max:].gather(1, assigned.labels[:, None]).squeeze(1)
        cls_loss = (softplus_sum - (foreground_logits * quality).sum()) / normaliser

        # box terms on the foreground anchors only (every other anchor has weight 0)
        dist_logits = rows[:, :4 * self.reg_max]
        points, stride = grid.points[assigned.anchor], grid.stride[assigned.anchor]  # (F, 2), (F, 1) px
        pred_boxes = self._decode(dist_logits, points)  # stride units
        target_boxes = assigned.boxes / stride
        box_loss = ciou_loss(pred_boxes, target_boxes, quality, normaliser)
        dfl_loss = distribution_focal_loss(dist_logits, boxes_to_distances(target_boxes, points), quality, normaliser)

        box_gain, cls_gain, dfl_gain = self.gains
        components = torch.stack((box_loss * box_gain, cls_loss * cls_gain, dfl_loss * dfl_gain))
        return components.sum() * batch, components.detach()
