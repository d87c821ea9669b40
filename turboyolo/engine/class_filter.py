"""classes=0,2: predict and val see only these classes.

The filter acts on the model's output, before NMS: the scores of every other class are zeroed, so
those boxes neither appear nor suppress a wanted box (class-agnostic NMS), and max_det counts only
wanted ones. `val` also drops the other classes' ground truth, so its metrics are those of the
kept classes (mAP averages over them).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from turboyolo.config import ConfigError


def check_classes(classes: list[int], names: list[str]) -> list[int]:
    """The class ids of classes= (sorted, unique), checked against the model's classes."""
    wanted = sorted(set(int(c) for c in classes))
    unknown = [c for c in wanted if c >= len(names)]
    if unknown:
        listing = ", ".join(f"{i}={name}" for i, name in enumerate(names))
        raise ConfigError(f"classes={','.join(map(str, classes))}: the model has {len(names)} classes "
                          f"({listing}); give ids below {len(names)}")
    return wanted


def keep_class_scores(preds: torch.Tensor, classes: list[int] | None) -> torch.Tensor:
    """preds (B, A, 4 + nc) decoded model output -> the same with other classes' scores set to 0.

    classes: None or [] keeps all (preds returned as they are)."""
    if not classes:
        return preds
    mask = torch.zeros(preds.shape[-1] - 4, dtype=torch.bool, device=preds.device)
    mask[torch.as_tensor(classes, device=preds.device)] = True
    scores = preds[..., 4:] * mask.to(preds.dtype)
    return torch.cat([preds[..., :4], scores], dim=-1)


class ClassFilteredModel(torch.nn.Module):
    """A detector (PyTorch or ONNX) whose output keeps only `classes` (keep_class_scores)."""

    def __init__(self, model, classes: list[int]):
        super().__init__()
        self.model = model  # an nn.Module becomes a child (train/eval reach it); an OnnxDetector stays an attribute
        self.classes = list(classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return keep_class_scores(self.model(images), self.classes)


def records_with_classes(records: list, classes: list[int]) -> list:
    """ImageRecords (data/records.py) with only `classes` in their ground truth (scored and ignored boxes)."""
    wanted = np.asarray(classes, dtype=np.int64)
    kept = []
    for record in records:
        scored = np.isin(record.classes, wanted)
        ignored = np.isin(record.ignored_classes, wanted)
        kept.append(dataclasses.replace(record, boxes=record.boxes[scored], classes=record.classes[scored],
                                        ignored_boxes=record.ignored_boxes[ignored],
                                        ignored_classes=record.ignored_classes[ignored]))
    return kept
