"""Fold BatchNorm into the preceding convolution for inference.

In eval mode BN is an affine map per channel, y = (x - mean) / sqrt(var + eps) * gamma + beta, so
it can be absorbed into the conv weights and bias: one op instead of two, same outputs (to float
rounding). Only valid with frozen running statistics, i.e. for inference / eval mode.
"""
from __future__ import annotations

import torch
from torch import nn

from turboyolo.model.blocks import ConvBnSiLU


@torch.no_grad()
def fuse_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """-> a new Conv2d (with bias) equal to bn(conv(x)) in eval mode."""
    fused = nn.Conv2d(
        conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
        dilation=conv.dilation, groups=conv.groups, bias=True,
    ).to(device=conv.weight.device, dtype=conv.weight.dtype)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # (c_out,)
    fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
    conv_bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    fused.bias.copy_((conv_bias - bn.running_mean) * scale + bn.bias)
    return fused


def fuse_model(model: nn.Module) -> nn.Module:
    """Fold every ConvBnSiLU's BN into its conv, in place; returns the model. Idempotent."""
    for module in model.modules():
        if isinstance(module, ConvBnSiLU) and isinstance(module.bn, nn.BatchNorm2d):
            module.conv = fuse_conv_bn(module.conv, module.bn)
            module.bn = nn.Identity()
    return model
