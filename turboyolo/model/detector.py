"""DetectionModel: layers built from a spec (backbone + neck) followed by the detection head."""
from __future__ import annotations

import torch
from torch import nn

from turboyolo.model.blocks import BLOCKS
from turboyolo.model.fuse import fuse_model
from turboyolo.model.head import DetectHead
from turboyolo.model.spec import LayerPlan, load_spec, plan_layers
from turboyolo.model.widths import narrow_convs


def build_layer(plan: LayerPlan) -> nn.Module:
    block = BLOCKS[plan.block]
    if plan.copies == 1:
        return block(*plan.args)
    # stacked copies: the first maps c_in -> c_out, the others c_out -> c_out
    c_in, c_out, *rest = plan.args
    return nn.Sequential(block(c_in, c_out, *rest), *(block(c_out, c_out, *rest) for _ in range(plan.copies - 1)))


class DetectionModel(nn.Module):
    """YOLO detector.

    forward(images (B, 3, H, W) float in [0, 1], H and W multiples of the largest stride):
      train mode -> list of raw maps, one per stride, (B, 4*reg_max + num_classes, H/s, W/s);
      eval mode  -> (B, A, 4 + num_classes): boxes xyxy in input pixels, sigmoid class scores;
                    A = sum over strides of (H/s) * (W/s).
    Attributes: strides (tensor of pixels per cell, e.g. [8, 16, 32]), reg_max, num_classes,
    names (list of class names, settable), spec (dict that rebuilds this model via build_model; a pruned
    model's spec lists its narrowed convs under `widths`, see model/widths.py),
    frozen_layers (layers 0 .. frozen_layers-1 are not trained, see `freeze`).
    """

    def __init__(self, spec: dict | str, num_classes: int):
        super().__init__()
        spec = load_spec(spec)
        spec["num_classes"] = int(num_classes)
        self.spec = spec
        self.num_classes = int(num_classes)
        self.reg_max = int(spec["reg_max"])
        self.names = [f"class{i}" for i in range(self.num_classes)]
        self.frozen_layers = 0

        plans = plan_layers(spec)
        self.layers = nn.ModuleList(build_layer(p) for p in plans)
        self.sources = [p.sources for p in plans]
        self.detect_from = list(spec["detect"])
        # outputs read by a later layer (other than the next one) or by the head must be kept
        self.kept = sorted({s for p in plans for s in p.sources if s != p.index - 1 and s >= 0} | set(self.detect_from))
        self.head = DetectHead(
            [plans[d].c_out for d in self.detect_from], self.num_classes, self.reg_max, [plans[d].stride for d in self.detect_from]
        )
        if spec.get("widths"):  # a pruned model: some convs narrower than the scale makes them
            narrow_convs(self, spec["widths"])
            self.head.initialise_biases()

    def freeze(self, count: int) -> "DetectionModel":
        """Stop training layers 0 .. count-1 (the head is never frozen); returns self.

        Their parameters get no gradients, so the optimizer leaves them out, and their BatchNorm
        stays in eval mode while the model trains: the running statistics keep the values the
        weights were trained with instead of drifting to the new data's batches.
        """
        if not 0 <= count <= len(self.layers):
            raise ValueError(f"cannot freeze {count} layers: the model has {len(self.layers)} (plus the head)")
        self.frozen_layers = count
        for index, layer in enumerate(self.layers):
            layer.requires_grad_(index >= count)
        return self.train(self.training)

    def train(self, mode: bool = True) -> "DetectionModel":
        super().train(mode)
        for layer in self.layers[: self.frozen_layers]:
            layer.eval()  # frozen BatchNorm statistics (see freeze)
        return self

    @property
    def strides(self) -> torch.Tensor:
        return self.head.strides

    def forward_raw(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Raw head maps whatever the mode (validation uses them for the loss and decodes them)."""
        kept: dict[int, torch.Tensor] = {}
        x = images
        for index, (layer, sources) in enumerate(zip(self.layers, self.sources)):
            if len(sources) > 1:
                x = layer([x if s == index - 1 else kept[s] for s in sources])
            elif index > 0 and sources[0] != index - 1:
                x = layer(kept[sources[0]])
            else:
                x = layer(x)
            if index in self.kept:
                kept[index] = x
        return self.head([kept[d] for d in self.detect_from])

    def decode(self, raw_maps: list[torch.Tensor]) -> torch.Tensor:
        """Raw maps -> (B, A, 4 + num_classes) boxes xyxy pixels + class scores."""
        return self.head.decode(raw_maps)

    def forward(self, images: torch.Tensor):
        raw_maps = self.forward_raw(images)
        return raw_maps if self.training else self.head.decode(raw_maps)

    def fuse(self) -> "DetectionModel":
        """Fold BN into convs for inference (use in eval mode only); returns self."""
        fuse_model(self)
        return self
