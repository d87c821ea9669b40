"""What the loss reads from the head's (B, 4R + C, A) maps, with a gradient written in one buffer.

The loss needs two things from the maps: softplus summed over every class logit (the background
part of the BCE) and the full rows of the F foreground anchors (their DFL logits and the logit of
their class). Through plain autograd each read (a slice, an index, a dtype cast) returns its own
zero-filled map-sized gradient and autograd adds them up: about six passes over B x (4R + C) x A
values per step. Here the backward fills one buffer: zeros, sigmoid on the class channels, the
foreground rows added in place.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


class _SoftplusSumAndRows(torch.autograd.Function):
    @staticmethod
    def forward(ctx, maps, first_class_channel: int, image, anchor):
        class_logits = maps[:, first_class_channel:].float()
        ctx.save_for_backward(maps, image, anchor)
        ctx.first_class_channel = first_class_channel
        return F.softplus(class_logits).sum(), maps[image, :, anchor].float()

    @staticmethod
    def backward(ctx, grad_sum, grad_rows):
        maps, image, anchor = ctx.saved_tensors
        first = ctx.first_class_channel
        grad = torch.zeros_like(maps)
        grad[:, first:] = torch.sigmoid(maps[:, first:].float()) * grad_sum  # d softplus(x) / dx = sigmoid(x)
        # the foreground rows: both terms summed in fp32, then written (one rounding to a bf16 map's dtype);
        # each (image, anchor) comes at most once, so the writes do not collide
        grad_rows = grad_rows.clone()
        grad_rows[:, first:] += torch.sigmoid(maps[image, first:, anchor].float()) * grad_sum
        grad[image, :, anchor] = grad_rows.to(grad.dtype)
        return grad, None, None, None


def softplus_sum_and_rows(maps: torch.Tensor, first_class_channel: int, image: torch.Tensor,
                          anchor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """maps (B, K, A) any float dtype; image, anchor (F,) int64, no (image, anchor) twice.

    -> (sum of softplus over maps[:, first_class_channel:] as a fp32 scalar, (F, K) fp32 rows
    maps[image, :, anchor]); both differentiable with respect to maps."""
    return _SoftplusSumAndRows.apply(maps, first_class_channel, image, anchor)
