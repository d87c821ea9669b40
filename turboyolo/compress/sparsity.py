"""Sparsity training: an L1 penalty on BatchNorm scales pushes unneeded channels' scales towards zero.

Network slimming (Liu et al. 2017): after training with the penalty, `turboyolo prune method=bn`
removes the channels with the smallest |scale| and loses less accuracy, since those channels
already contribute little. The penalty joins the loss in the task seam (engine/train_step.py).
"""
from __future__ import annotations

import torch
from torch import nn


class BatchNormSparsityTask:
    """task(model, images, targets) -> (inner loss + weight * batch * sum |BN scale|, inner components).

    `model` is the plain (unwrapped) detector whose BatchNorm scales are penalised; the penalty is per
    image, like the detection loss, so its pull does not depend on the batch size.
    """

    def __init__(self, inner, model: nn.Module, weight: float):
        self.inner, self.weight = inner, float(weight)
        self.scales = [m.weight for m in model.modules() if isinstance(m, nn.BatchNorm2d) and m.weight.requires_grad]

    def __call__(self, model: nn.Module, images: torch.Tensor, targets: torch.Tensor):
        loss, components = self.inner(model, images, targets)
        penalty = sum(scale.abs().sum() for scale in self.scales)
        return loss + self.weight * images.shape[0] * penalty, components
