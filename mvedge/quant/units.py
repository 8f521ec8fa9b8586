"""The blocks a MambaVision is quantized (and excluded) by: stem, each block, each downsample, head."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class Unit:
    """A named group of module paths quantized or kept float together."""

    name: str
    paths: tuple[str, ...]
    kind: str  # stem, conv block, mamba block, attention block, downsample, head


def quant_units(model: nn.Module) -> list[Unit]:
    """The model's units in forward order; their names are valid `--exclude` paths."""
    units: list[Unit] = []
    if hasattr(model, "patch_embed"):
        units.append(Unit("patch_embed", ("patch_embed",), "stem"))
    for i, level in enumerate(getattr(model, "levels", [])):
        for j, block in enumerate(level.blocks):
            mixer = type(getattr(block, "mixer", None)).__name__
            kind = {"MambaVisionMixer": "mamba block", "Attention": "attention block"}.get(mixer, "conv block")
            units.append(Unit(f"levels.{i}.blocks.{j}", (f"levels.{i}.blocks.{j}",), kind))
        if getattr(level, "downsample", None) is not None:
            units.append(Unit(f"levels.{i}.downsample", (f"levels.{i}.downsample",), "downsample"))
    head = tuple(name for name in ("norm", "avgpool", "head") if isinstance(getattr(model, name, None), nn.Module))
    if head:
        units.append(Unit("head", head, "head"))
    return units
