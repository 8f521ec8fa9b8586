"""Evaluation preprocessing per variant (official `default_cfgs` and timm's eval transform).

Exposed as data so converters can fold it into artifacts and apps can embed it in sidecars.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from mvedge.model.configs import canonical_variant

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes the model input: resize, crop, scale to [0, 1], normalise (RGB, NCHW)."""

    input_size: int = 224
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    interpolation: str = "bicubic"
    crop_pct: float = 1.0
    crop_mode: str = "center"  # "center": keep aspect, resize short side; "squash": resize both sides
    channels: str = "RGB"
    layout: str = "NCHW"
    extra: dict = field(default_factory=dict)

    def resize_size(self) -> int:
        """Side the image is resized to before the centre crop: floor(input_size / crop_pct)."""
        return math.floor(self.input_size / self.crop_pct)

    def to_dict(self) -> dict:
        """Plain-JSON form for sidecars."""
        out = asdict(self)
        out["resize_size"] = self.resize_size()
        return out


_CROP = {
    "T": (224, 1.0, "center"),
    "T2": (224, 0.98, "center"),
    "S": (224, 0.93, "center"),
    "B": (224, 1.0, "center"),
    "L": (224, 1.0, "center"),
    "L2": (224, 1.0, "center"),
    "B-21K": (224, 1.0, "center"),
    "L-21K": (224, 1.0, "center"),
    "L2-512-21K": (512, 0.93, "squash"),
    "L3-256-21K": (256, 1.0, "center"),
    "L3-512-21K": (512, 0.93, "squash"),
}


def preprocessing(variant: str) -> Preprocessing:
    """The official evaluation preprocessing of a variant (its timm default_cfg)."""
    size, crop_pct, mode = _CROP[canonical_variant(variant)]
    return Preprocessing(input_size=size, crop_pct=crop_pct, crop_mode=mode)
