"""Progressive resizing: the training input size of each epoch, growing from a fraction of imgsz to imgsz.

Early epochs at smaller inputs are cheaper (cost ~ pixels) and learn the coarse features; the last
epochs, close_mosaic's included, run at imgsz so training ends at the size validation uses (FixRes:
a network trained at one resolution is best tested at it). The batch, the number of batches per
epoch and so the LR schedule are the same at every size: only the pixels per image change.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressiveResize:
    share: float  # share of the planned epochs spent growing (0 = off)
    start: float  # first size as a fraction of imgsz

    @classmethod
    def from_config(cls, cfg) -> "ProgressiveResize":
        return cls(float(cfg.progressive), float(cfg.progressive_min))

    def size_at(self, epoch: int, epochs: int, full_size: int, stride: int, close_mosaic: int = 0) -> int:
        """Training input side (pixels, a stride multiple <= full_size) of 0-based `epoch` of `epochs`.

        The ramp is linear over the first round(share * epochs) epochs and always ends before the
        close_mosaic epochs; after it every epoch trains at full_size (imgsz rounded up to the stride).
        """
        ramp = min(round(self.share * epochs), epochs - close_mosaic)
        if self.share <= 0 or epoch >= ramp:
            return full_size
        fraction = self.start + (1.0 - self.start) * epoch / ramp
        return min(full_size, max(stride, int(full_size * fraction / stride + 0.5) * stride))  # nearest, halves up

    def pixel_share(self, epoch: int, epochs: int, full_size: int, stride: int, close_mosaic: int = 0) -> float:
        """Pixels per image at `epoch` over pixels at full_size (compute scales about with it)."""
        return (self.size_at(epoch, epochs, full_size, stride, close_mosaic) / full_size) ** 2


OFF = ProgressiveResize(0.0, 1.0)
