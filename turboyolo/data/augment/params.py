"""Augmentation probabilities and magnitudes, read once from the run config."""
from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class AugmentParams:
    """Every knob of the training augmentation; see turboyolo/config/default.yaml for meanings."""

    mosaic: float = 1.0  # probability of a 4-image mosaic
    mixup: float = 0.0  # probability of blending with a second sample
    degrees: float = 0.0  # max rotation, degrees
    translate: float = 0.1  # max translation, fraction of the output size
    scale: float = 0.5  # scale gain drawn from [1 - scale, 1 + scale]
    shear: float = 0.0  # max shear, degrees
    perspective: float = 0.0  # perspective coefficient (0 = affine)
    hsv_h: float = 0.015  # max hue shift, fraction of the hue circle
    hsv_s: float = 0.7  # saturation gain range 1 +/- hsv_s
    hsv_v: float = 0.4  # value gain range 1 +/- hsv_v
    fliplr: float = 0.5  # probability of a horizontal flip
    flipud: float = 0.0  # probability of a vertical flip
    min_box_px: float = 2.0  # drop boxes narrower or shorter than this, pixels
    min_box_area_ratio: float = 0.1  # drop boxes keeping less than this share of their area
    max_box_aspect: float = 20.0  # drop boxes more elongated than this

    @classmethod
    def from_config(cls, cfg) -> "AugmentParams":
        return cls(**{f.name: float(cfg[f.name]) for f in fields(cls) if f.name in cfg})

    @classmethod
    def none(cls) -> "AugmentParams":
        """No augmentation at all (validation, and the geometry-only tests)."""
        return cls(mosaic=0, mixup=0, translate=0, scale=0, hsv_h=0, hsv_s=0, hsv_v=0, fliplr=0, flipud=0)
