"""Augmentation probabilities and magnitudes, read once from the run config."""
from __future__ import annotations

from dataclasses import dataclass, fields

from turboyolo.config import default_of


@dataclass(frozen=True)
class AugmentParams:
    """Every knob of the training augmentation: each field is the config key of the same name (its
    meaning and range are in turboyolo/config/default.yaml, and so is its default)."""

    mosaic: float = default_of("mosaic")  # probability of a 4-image mosaic
    mixup: float = default_of("mixup")  # probability of blending with a second sample
    degrees: float = default_of("degrees")  # max rotation, degrees
    translate: float = default_of("translate")  # max translation, fraction of the output size
    scale: float = default_of("scale")  # scale gain drawn from [1 - scale, 1 + scale]
    shear: float = default_of("shear")  # max shear, degrees
    perspective: float = default_of("perspective")  # perspective coefficient (0 = affine)
    hsv_h: float = default_of("hsv_h")  # max hue shift, fraction of the hue circle
    hsv_s: float = default_of("hsv_s")  # saturation gain range 1 +/- hsv_s
    hsv_v: float = default_of("hsv_v")  # value gain range 1 +/- hsv_v
    fliplr: float = default_of("fliplr")  # probability of a horizontal flip
    flipud: float = default_of("flipud")  # probability of a vertical flip
    min_box_px: float = default_of("min_box_px")  # drop boxes narrower or shorter than this, pixels
    min_box_area_ratio: float = default_of("min_box_area_ratio")  # drop boxes keeping less of their area
    max_box_aspect: float = default_of("max_box_aspect")  # drop boxes more elongated than this

    @classmethod
    def from_config(cls, cfg) -> "AugmentParams":
        """Every field from the config key of its name (a config without one is a KeyError, not a default)."""
        return cls(**{f.name: float(cfg[f.name]) for f in fields(cls)})

    @classmethod
    def none(cls) -> "AugmentParams":
        """No augmentation at all (validation, and the geometry-only tests)."""
        return cls(mosaic=0, mixup=0, translate=0, scale=0, hsv_h=0, hsv_s=0, hsv_v=0, fliplr=0, flipud=0)
