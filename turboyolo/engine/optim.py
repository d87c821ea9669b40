"""Optimizer construction: parameter groups (no weight decay on BatchNorm and biases), auto choice."""
from __future__ import annotations

import torch
from torch import nn

from turboyolo.config import default_of

# AdamW converges much faster on short from-scratch runs; SGD wins on long schedules.
AUTO_SGD_MIN_STEPS = 10_000


def resolve_optimizer(name: str, total_steps: int, num_classes: int, lr0: float,
                      lr0_given: bool = False) -> tuple[str, float]:
    """Return (optimizer name, base LR at the nominal batch). `auto` picks the optimizer by run length,
    and its learning rate too unless the user gave lr0 (`lr0_given`): a learning rate typed is one kept."""
    if name != "auto":
        return name, lr0
    if total_steps >= AUTO_SGD_MIN_STEPS:
        return "sgd", lr0 if lr0_given else 0.01
    # Adam-family LR shrinks with more classes (more logits share the gradient signal).
    return "adamw", lr0 if lr0_given else round(0.01 / (4 + num_classes), 6)


def planned_optimizer(cfg, train_images: int, num_classes: int, world_size: int = 1) -> tuple[str, float]:
    """(optimizer, base LR at the nominal batch) that a run of `cfg` on `train_images` images will use."""
    from turboyolo.config.derived import derive

    probe = derive(cfg, world_size)
    batches_per_epoch = max(1, -(-train_images // probe.global_batch))
    total_steps = cfg.epochs * batches_per_epoch // probe.micro_steps_per_step
    return resolve_optimizer(cfg.optimizer, total_steps, num_classes, cfg.lr0, "lr0" in cfg.given)


def parameter_groups(model: nn.Module) -> tuple[list, list, list]:
    """(weights with decay, norm weights, biases): decay only on conv/linear weights."""
    decay, norm, bias = [], [], []
    for module in model.modules():
        for pname, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            if pname == "bias":
                bias.append(param)
            elif isinstance(module, (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)):
                norm.append(param)
            else:
                decay.append(param)
    return decay, norm, bias


def build_optimizer(model: nn.Module, name: str, lr: float, momentum: float, weight_decay: float,
                    nesterov: bool = default_of("nesterov")):
    """Groups: 0 = decayed weights, 1 = norm weights, 2 = biases (the warm-up treats 2 specially)."""
    decay, norm, bias = parameter_groups(model)
    groups = [
        {"params": decay, "weight_decay": weight_decay, "group": "weight"},
        {"params": norm, "weight_decay": 0.0, "group": "norm"},
        {"params": bias, "weight_decay": 0.0, "group": "bias"},
    ]
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov, foreach=True)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=(momentum, 0.999), weight_decay=0.0, foreach=True)
    raise ValueError(f"unknown optimizer '{name}'")
