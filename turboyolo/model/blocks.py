"""Building blocks of the CSP-style YOLO backbone and PAN-FPN neck.

Every block maps (B, c_in, H, W) -> (B, c_out, H', W') and is constructed as
`Block(c_in, c_out, *args)` so that the model spec (turboyolo/model/spec.py) can build any of them
from a YAML line. `BLOCKS` is that registry: add a class there to make it usable in a model YAML.
"""
from __future__ import annotations

import torch
from torch import nn


class ConvBnSiLU(nn.Module):
    """Conv2d (no bias) -> BatchNorm2d -> SiLU; "same" padding, so stride s divides H and W by s.

    After `turboyolo.model.fuse.fuse_model`, `bn` is an Identity and `conv` carries the folded bias.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1, groups: int = 1, act: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False)
        # eps/momentum as in the YOLO family (momentum 0.03 = slower running stats than torch's 0.1)
        self.bn = nn.BatchNorm2d(c_out, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    """Two 3x3 convs with an optional residual connection (only when c_in == c_out)."""

    def __init__(self, c_in: int, c_out: int, shortcut: bool = True, expansion: float = 0.5):
        super().__init__()
        hidden = int(c_out * expansion)
        self.cv1 = ConvBnSiLU(c_in, hidden, 3)
        self.cv2 = ConvBnSiLU(hidden, c_out, 3)
        self.residual = shortcut and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.residual else y


class C2f(nn.Module):
    """CSP block with a dense chain of bottlenecks (YOLOv8's "C2f").

    A 1x1 conv makes 2*h channels and splits them in two halves; the second half goes through
    `repeats` bottlenecks in sequence, and every intermediate output is kept. All 2 + repeats
    h-channel tensors are concatenated and mixed by a final 1x1 conv. h = c_out * expansion.
    """

    def __init__(self, c_in: int, c_out: int, repeats: int = 1, shortcut: bool = False, expansion: float = 0.5):
        super().__init__()
        hidden = int(c_out * expansion)
        self.cv1 = ConvBnSiLU(c_in, 2 * hidden, 1)
        self.cv2 = ConvBnSiLU((2 + repeats) * hidden, c_out, 1)
        self.m = nn.ModuleList(Bottleneck(hidden, hidden, shortcut, expansion=1.0) for _ in range(repeats))

    def split_sizes(self) -> list[int]:
        """[bypass, chain] channels of cv1's output: [h, h] as built. Read from the convs because
        structured pruning (turboyolo/compress) may narrow the halves by different amounts; the chain
        half is what the first bottleneck reads."""
        total = self.cv1.conv.out_channels
        chain = self.m[0].cv1.conv.in_channels if len(self.m) else total // 2
        return [total - chain, chain]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = list(self.cv1(x).split(self.split_sizes(), dim=1))
        for block in self.m:
            parts.append(block(parts[-1]))
        return self.cv2(torch.cat(parts, dim=1))


class SPPF(nn.Module):
    """Fast spatial pyramid pooling: three chained k x k max-pools (receptive fields k, 2k-1, 3k-2).

    Equivalent to SPP with kernels (5, 9, 13) for k=5 at a fraction of the cost.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int = 5):
        super().__init__()
        hidden = c_in // 2
        self.cv1 = ConvBnSiLU(c_in, hidden, 1)
        self.cv2 = ConvBnSiLU(hidden * 4, c_out, 1)
        self.pool = nn.MaxPool2d(kernel, stride=1, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = [self.cv1(x)]
        for _ in range(3):
            y.append(self.pool(y[-1]))
        return self.cv2(torch.cat(y, dim=1))


class Upsample(nn.Module):
    """Nearest-neighbour upsampling by an integer factor (keeps channels)."""

    def __init__(self, c_in: int, c_out: int, factor: int = 2):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.interpolate(x, scale_factor=self.factor, mode="nearest")


class Concat(nn.Module):
    """Concatenate a list of same-size feature maps along channels."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(xs, dim=1)


# name used in model YAMLs -> class
BLOCKS: dict[str, type[nn.Module]] = {
    "Conv": ConvBnSiLU,
    "Bottleneck": Bottleneck,
    "C2f": C2f,
    "SPPF": SPPF,
    "Upsample": Upsample,
    "Concat": Concat,
}
