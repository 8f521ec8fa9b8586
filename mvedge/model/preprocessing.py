"""Evaluation preprocessing per variant (official `default_cfgs` and timm's eval transform).

Exposed as data so converters can fold it into artifacts and apps can embed it in sidecars.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from numbers import Real
from typing import Any, Mapping

from mvedge.errors import BadInput
from mvedge.model.configs import canonical_variant

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes the model input: resize, crop, scale to [0, 1], normalise (RGB, NCHW)."""

    input_size: int | tuple[int, int] = 224  # a side, or (height, width) for a non-square input
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    interpolation: str = "bicubic"
    crop_pct: float = 1.0
    crop_mode: str = "center"  # "center": keep aspect, resize short side; "squash": resize both sides
    channels: str = "RGB"
    layout: str = "NCHW"
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.input_size, (tuple, list)):  # (S, S) is the square side S; (H, W) stays a pair
            height, width = (int(v) for v in self.input_size)
            object.__setattr__(self, "input_size", height if height == width else (height, width))

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the model input."""
        return self.input_size if isinstance(self.input_size, tuple) else (self.input_size, self.input_size)

    def resize_size(self) -> int | tuple[int, int]:
        """What the image is resized to before the centre crop: floor(input_size / crop_pct), a
        side for a square input, (height, width) for a non-square one (as timm does for a pair)."""
        if isinstance(self.input_size, tuple):
            return tuple(math.floor(side / self.crop_pct) for side in self.input_size)
        return math.floor(self.input_size / self.crop_pct)

    def to_dict(self) -> dict:
        """Plain-JSON form for sidecars (a non-square input_size and resize_size as [height, width])."""
        out = asdict(self)
        resize = self.resize_size()
        out["input_size"] = list(self.input_size) if isinstance(self.input_size, tuple) else self.input_size
        out["resize_size"] = list(resize) if isinstance(resize, tuple) else resize
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], where: str = "preprocessing") -> Preprocessing:
        """The inverse of `to_dict` (a sidecar's or a QAT checkpoint's section): derived keys such as
        resize_size are dropped, lists become tuples, missing keys take the defaults. BadInput names
        an unknown key or a value of the wrong kind; `where` says whose section it is."""
        if not isinstance(values, Mapping):
            raise BadInput(f"{where} must be a JSON object of preprocessing settings, got {type(values).__name__}")
        known = {f.name for f in fields(cls)}
        checked = {}
        for key, value in values.items():
            if key in DERIVED_KEYS:
                continue
            if key not in known:
                raise BadInput(f"{where} has an unknown key {key!r}; the keys are {', '.join(sorted(known))}")
            checked[key] = _checked_value(key, value, where)
        return cls(**checked)


DERIVED_KEYS = ("resize_size",)
"""Keys `Preprocessing.to_dict` adds that follow from the fields (ignored when reading one back)."""


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _checked_value(key: str, value: Any, where: str) -> Any:
    """A `to_dict` value as the field holds it, or BadInput naming the key."""
    if key == "input_size":
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
            return tuple(value)
        raise BadInput(f"{where}: input_size must be a positive integer or [height, width], got {value!r}")
    if key in ("mean", "std"):
        if isinstance(value, (list, tuple)) and value and all(_is_number(v) for v in value):
            if key == "std" and any(v == 0 for v in value):
                raise BadInput(f"{where}: std must not contain 0, got {list(value)!r}")
            return tuple(float(v) for v in value)
        raise BadInput(f"{where}: {key} must be a list of numbers (one per channel), got {value!r}")
    if key == "crop_pct":
        if _is_number(value) and value > 0:
            return float(value)
        raise BadInput(f"{where}: crop_pct must be a number above 0, got {value!r}")
    if key == "extra":
        if isinstance(value, Mapping):
            return dict(value)
        raise BadInput(f"{where}: extra must be a JSON object, got {value!r}")
    if isinstance(value, str):  # interpolation, crop_mode, channels, layout
        return value
    raise BadInput(f"{where}: {key} must be a string, got {value!r}")


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
