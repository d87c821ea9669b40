"""Model size figures: parameter count and forward FLOPs (as reported next to speed numbers)."""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements (BN affine weights included; buffers such as running stats not)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@torch.no_grad()
def count_forward_flops(model: nn.Module, imgsz: int | tuple[int, int], batch: int = 1) -> int:
    """FLOPs of one forward pass on `batch` images of imgsz (int or (H, W)), 2 FLOPs per multiply-add.

    Counted by torch.utils.flop_counter (convolutions and matmuls; element-wise ops such as BN,
    SiLU, pooling and the box decoding are not counted, as in the usual GFLOPs tables).
    The model runs in train mode (raw maps) so decoding never adds to the count; its mode is restored.
    """
    height, width = (imgsz, imgsz) if isinstance(imgsz, int) else imgsz
    param = next(model.parameters())
    images = torch.zeros(batch, 3, height, width, device=param.device, dtype=param.dtype)
    was_training = model.training
    model.train()
    # BN running stats would be updated by a train-mode pass: save and restore them
    state = {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}
    counter = FlopCounterMode(display=False)
    with counter:
        model(images)
    model.load_state_dict(state, strict=False)
    model.train(was_training)
    return counter.get_total_flops()
