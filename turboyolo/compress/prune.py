"""Structured pruning: remove whole channels, so the result is a smaller dense detector.

torch-pruning (the optional extra `prune`) traces the model into a dependency graph and removes
each group of coupled channels at once: a conv's outputs, the BatchNorm after it, the inputs of
every conv that reads them, through concatenations, C2f's split (seen as two convs while tracing,
see c2f_view.py), residual adds and the head towers. The head's last convs keep their outputs (the
4 * reg_max box bins and one channel per class), so the output shapes do not change. Every group
keeps about (1 - ratio) of its channels (parameters and FLOPs shrink about (1 - ratio)^2); kept counts
are not rounded to multiples of 8, which measured no faster per FLOP on CPU (n at 416, 1 thread) and
would prune the narrow early layers harder.

The pruned model is rebuilt from its spec (the narrowed convs recorded under `widths`, see
turboyolo/model/widths.py) and given the pruned weights: what `prune_detector` returns is exactly
what any later command builds from the checkpoint.
"""
from __future__ import annotations

import copy
from typing import Iterable

import torch

from turboyolo.compress.c2f_view import merge_c2f_blocks, split_c2f_blocks
from turboyolo.errors import require_extra
from turboyolo.model.build import build_model
from turboyolo.model.detector import DetectionModel
from turboyolo.model.widths import changed_widths

METHODS = ("l1", "bn", "taylor")


def channel_importance(method: str):
    """torch-pruning's importance criterion for `method` (see METHODS)."""
    tp = require_extra("torch_pruning", "prune", "turboyolo prune")
    if method == "l1":  # L1 norm of each output channel's weights, summed over the coupled group
        return tp.importance.MagnitudeImportance(p=1)
    if method == "bn":  # |BatchNorm scale|: the network-slimming criterion (pairs with sparsity= training)
        return tp.importance.BNScaleImportance()
    if method == "taylor":  # |weight x gradient| of the detection loss: first-order loss change
        return tp.importance.TaylorImportance()
    raise ValueError(f"unknown pruning method {method!r}; one of {METHODS}")


def unpruned_reference(model: DetectionModel) -> DetectionModel:
    """The model's spec built without `widths`: the widths a pruned model is compared against."""
    spec = {key: value for key, value in model.spec.items() if key != "widths"}
    return build_model(spec, model.num_classes)


def prune_detector(model: DetectionModel, ratio: float, method: str, imgsz: int,
                   loss_batches: Iterable[tuple[torch.Tensor, torch.Tensor]] = (), loss_fn=None) -> DetectionModel:
    """A copy of `model` with `ratio` (0..1) of the channels of every prunable group removed.

    method: "l1" | "bn" | "taylor". Taylor needs gradients: `loss_batches` yields (images (B, 3, H, W)
    float 0..1, targets (N, 6)) and `loss_fn(raw_maps, targets) -> (loss, components)` scores them.
    imgsz: side of the example image used to trace the graph (any multiple of the largest stride).
    The input model is left untouched; the result is in eval mode on the CPU, with the input's names.
    """
    tp = require_extra("torch_pruning", "prune", "turboyolo prune")
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be in (0, 1), got {ratio}")
    importance = channel_importance(method)
    work = copy.deepcopy(model).cpu().float().eval()
    work.freeze(0)  # every layer may lose channels (a freeze= of the source run does not carry over)
    split_c2f_blocks(work)
    if method == "taylor":
        _accumulate_gradients(work, loss_batches, loss_fn)
    keep_outputs = [*work.head.class_outputs(), *(tower[-1] for tower in work.head.box_towers)]
    example = torch.zeros(1, 3, imgsz, imgsz)
    pruner = tp.pruner.MetaPruner(work, example, importance=importance, pruning_ratio=ratio, ignored_layers=keep_outputs,
                                  forward_fn=lambda m, images: m.forward_raw(images))
    pruner.step()
    work.zero_grad(set_to_none=True)
    merge_c2f_blocks(work)

    spec = {**model.spec, "widths": changed_widths(work, unpruned_reference(model))}
    pruned = build_model(spec, model.num_classes)
    pruned.load_state_dict(work.state_dict())
    pruned.names = list(model.names)
    return pruned.eval()


def _accumulate_gradients(model: DetectionModel, batches, loss_fn) -> None:
    """Sum the detection loss's gradients over `batches` into the parameters' .grad (Taylor importance).

    The model stays in eval mode: BatchNorm uses (and keeps) its running statistics.
    """
    seen = 0
    for images, targets in batches:
        loss, _ = loss_fn(model.forward_raw(images.float()), targets)
        loss.backward()
        seen += 1
    if not seen:
        raise ValueError("method=taylor needs at least one batch of training images to score the channels")
