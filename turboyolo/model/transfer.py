"""Start a detector from another detector's weights (fine-tuning): copy what fits, re-initialise the rest.

Every tensor of the new model (parameters and BatchNorm buffers) is copied from the source state
when the source has a tensor of the same name and shape. The class outputs (the last conv of each
class tower, one row per class) are the exception, because their rows mean classes:
  * same class names in the same order: copied;
  * the same names in another order: copied with the rows reordered to the new order;
  * any other class list: left at their fresh initialisation (class-prior bias), even when the
    shapes happen to match (a 3-class model fine-tuned on 3 other classes).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from turboyolo.model.detector import DetectionModel


@dataclass
class TransferReport:
    """What `transfer_weights` did with each tensor of the new model's state_dict."""

    loaded: list[str] = field(default_factory=list)  # copied from the source (class rows possibly reordered)
    reinitialised: list[str] = field(default_factory=list)  # class outputs of a different class list
    skipped: list[str] = field(default_factory=list)  # no source tensor of that name and shape: fresh init
    remapped_classes: bool = False  # class rows were reordered to the new class order

    def describe(self) -> str:
        text = (f"{len(self.loaded)} tensors loaded, {len(self.reinitialised)} re-initialised (class outputs), "
                f"{len(self.skipped)} skipped (no tensor of that name and shape)")
        if self.remapped_classes:
            text += "; class rows reordered to the dataset's class order"
        if self.skipped:
            text += f": {', '.join(self.skipped[:3])}{', ...' if len(self.skipped) > 3 else ''}"
        return text


def class_order(source_names: list[str], target_names: list[str]) -> list[int] | None:
    """Source row of each target class when both lists hold the same distinct names, else None."""
    source, target = list(source_names), list(target_names)
    if len(set(source)) != len(source) or sorted(source) != sorted(target):
        return None
    return [source.index(name) for name in target]


def class_output_keys(model: DetectionModel) -> set[str]:
    """state_dict names of the class-output weights and biases."""
    outputs = {id(conv) for conv in model.head.class_outputs()}
    return {f"{prefix}.{name}" for prefix, module in model.named_modules() if id(module) in outputs
            for name, _ in module.named_parameters(recurse=False)}


@torch.no_grad()
def transfer_weights(model: DetectionModel, source_state: dict[str, torch.Tensor],
                     source_names: list[str], target_names: list[str]) -> TransferReport:
    """Copy `source_state` (a detector's state_dict for classes `source_names`) into `model`
    (built for `target_names`) as the module docstring says; returns what was done per tensor."""
    report = TransferReport()
    order = class_order(source_names, target_names)
    report.remapped_classes = order is not None and order != list(range(len(order)))
    class_keys = class_output_keys(model)
    state = model.state_dict()
    for key, fresh in state.items():
        source = source_state.get(key)
        if key in class_keys and order is None:
            report.reinitialised.append(key)
        elif source is None or source.shape != fresh.shape:
            report.skipped.append(key)
        else:
            state[key] = source[order] if key in class_keys else source
            report.loaded.append(key)
    model.load_state_dict(state)
    return report
