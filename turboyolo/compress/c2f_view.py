"""C2f seen as two convolutions while torch-pruning traces it, and merged back afterwards.

C2f's first 1x1 conv makes both halves and splits them; the chain half feeds the bottlenecks, the
concatenation and (with shortcuts) every residual add. torch-pruning 1.6 maps a split's consumers to
its outputs by position and fails on that fan-out (IndexError in shape inference, the same failure
reported for YOLOv8's C2f). The cure it documents is a C2f built from two convs. `SplitC2f` is that
form, holding the same weights; `split_c2f_blocks` swaps it in, `merge_c2f_blocks` folds the two
(now pruned) convs back into one, so the model keeps turboyolo's own C2f and state_dict names.
"""
from __future__ import annotations

import torch
from torch import nn

from turboyolo.model.blocks import C2f, ConvBnSiLU


def _conv_bn_rows(source: ConvBnSiLU, rows: slice) -> ConvBnSiLU:
    """A ConvBnSiLU made of the output channels `rows` of `source` (conv weights, BN affine and statistics)."""
    conv = source.conv
    part = ConvBnSiLU(conv.in_channels, len(range(conv.out_channels)[rows]), conv.kernel_size[0], conv.stride[0],
                      groups=conv.groups, act=not isinstance(source.act, nn.Identity))
    part.bn.eps, part.bn.momentum = source.bn.eps, source.bn.momentum
    with torch.no_grad():
        part.conv.weight.copy_(conv.weight[rows])
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(part.bn, name).copy_(getattr(source.bn, name)[rows])
        part.bn.num_batches_tracked.copy_(source.bn.num_batches_tracked)
    return part.to(conv.weight.device)


def _concat_rows(first: ConvBnSiLU, second: ConvBnSiLU, into: ConvBnSiLU) -> None:
    """Make `into` the ConvBnSiLU whose outputs are `first`'s then `second`'s channels."""
    c_out = first.conv.out_channels + second.conv.out_channels
    conv = first.conv
    into.conv = nn.Conv2d(conv.in_channels, c_out, conv.kernel_size, conv.stride, conv.padding, bias=False).to(conv.weight.device)
    into.bn = nn.BatchNorm2d(c_out, eps=first.bn.eps, momentum=first.bn.momentum).to(conv.weight.device)
    with torch.no_grad():
        into.conv.weight.copy_(torch.cat((first.conv.weight, second.conv.weight)))
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(into.bn, name).copy_(torch.cat((getattr(first.bn, name), getattr(second.bn, name))))
        into.bn.num_batches_tracked.copy_(first.bn.num_batches_tracked)


class SplitC2f(nn.Module):
    """The C2f `block` with its cv1 cut into `bypass` and `chain` convs: same outputs, same modules otherwise."""

    def __init__(self, block: C2f):
        super().__init__()
        self.original = [block]  # a list, so the original is not a submodule that torch-pruning would see
        bypass, _ = block.split_sizes()
        self.bypass = _conv_bn_rows(block.cv1, slice(0, bypass))
        self.chain = _conv_bn_rows(block.cv1, slice(bypass, None))
        self.m, self.cv2 = block.m, block.cv2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = [self.bypass(x), self.chain(x)]
        for bottleneck in self.m:
            parts.append(bottleneck(parts[-1]))
        return self.cv2(torch.cat(parts, dim=1))

    def merged(self) -> C2f:
        """The original C2f with cv1 made of the (pruned) bypass and chain convs, m and cv2 as pruned."""
        block = self.original[0]
        _concat_rows(self.bypass, self.chain, block.cv1)
        block.m, block.cv2 = self.m, self.cv2
        return block


def split_c2f_blocks(model: nn.Module) -> None:
    """Replace every C2f in `model` by its SplitC2f, in place."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, C2f):
                setattr(parent, name, SplitC2f(child))


def merge_c2f_blocks(model: nn.Module) -> None:
    """Undo `split_c2f_blocks`, in place, keeping what pruning removed."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, SplitC2f):
                setattr(parent, name, child.merged())
