"""What an exported artifact outputs (`mvedge convert --outputs`): the logits, the pooled feature
vector, or chosen stage maps, and the module that turns a bundle's model into one returning them.

Stages are numbered 0..3 like `out_indices` and `forward_intermediates`: stage i is level i's map,
(B, dim*2**i, ceil(H/2**(i+2)), ceil(W/2**(i+2))), stride 2**(i+2), named `stage<i>`. A backbone
checkpoint's maps pass through its out norms; a classifier's are the raw level outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from mvedge.errors import BadInput
from mvedge.model.mambavision import MambaVisionBackbone

KINDS = ("logits", "features", "stages")
STAGES = (0, 1, 2, 3)


@dataclass(frozen=True)
class OutputChoice:
    """What an artifact outputs: `kind` (logits, features, stages) and, for stages, which (0..3)."""

    kind: str = "logits"
    stages: tuple[int, ...] = ()

    @property
    def names(self) -> list[str]:
        """The outputs' names, in output order."""
        if self.kind == "stages":
            return [f"stage{i}" for i in self.stages]
        return [self.kind]

    @property
    def tag(self) -> str | None:
        """The artifact-name tag ('features', 'stages123'); None for the logits (today's names)."""
        if self.kind == "logits":
            return None
        return "features" if self.kind == "features" else "stages" + "".join(map(str, self.stages))


def parse_outputs(kind: str | None, stages: str | None, backbone: bool = False,
                  default_stages: tuple[int, ...] = STAGES) -> OutputChoice:
    """The choice of --outputs and --stages (0-based, comma-separated; default: a backbone's
    out_indices, else all four). BadInput for --stages without stages, an unknown kind or a stage
    outside 0..3, and for logits/features of a backbone, which has no head."""
    kind = kind or ("stages" if backbone else "logits")
    if kind not in KINDS:
        raise BadInput(f"--outputs {kind!r} is not one of {', '.join(KINDS)}")
    if stages is not None and kind != "stages":
        raise BadInput(f"--stages chooses stage maps; it needs --outputs stages (got --outputs {kind})")
    if backbone and kind != "stages":
        raise BadInput(f"a detection/segmentation backbone has no pooled features or logits; use --outputs stages, not {kind}")
    if kind != "stages":
        return OutputChoice(kind)
    if stages is None:
        return OutputChoice(kind, tuple(sorted(default_stages)))
    try:
        chosen = sorted({int(s) for s in stages.split(",") if s.strip()})
    except ValueError:
        raise BadInput(f"--stages {stages!r} must be comma-separated stage numbers 0..3 (e.g. 1,2,3)") from None
    if not chosen or chosen[0] < 0 or chosen[-1] > 3:
        raise BadInput(f"--stages {stages!r}: stages are numbered 0..3 (like out_indices); e.g. --stages 1,2,3")
    if backbone and not set(chosen) <= set(default_stages):
        raise BadInput(f"--stages {stages!r}: this backbone outputs stages {','.join(map(str, default_stages))} only (its out_indices)")
    return OutputChoice(kind, tuple(chosen))


class OutputsModule(nn.Module):
    """A model that returns the chosen outputs as a tuple in output order (or, `as_dict`, a dict by
    name: LiteRT names its signature outputs after the keys)."""

    def __init__(self, model: nn.Module, choice: OutputChoice, as_dict: bool = False) -> None:
        super().__init__()
        self.model, self.choice, self.as_dict = model, choice, as_dict
        self.config = getattr(model, "config", None)

    def forward(self, x: Tensor) -> Any:
        if self.choice.kind == "logits":
            outs = [self.model(x)]
        elif self.choice.kind == "features":
            outs = [self.model.forward_features(x)]
        else:
            outs = list(self.model.forward_intermediates(x, self.choice.stages))
        return dict(zip(self.choice.names, outs)) if self.as_dict else tuple(outs)


def choice_from_names(names: list[str], listed: bool) -> OutputChoice:
    """The choice an artifact was converted with, from its sidecar's output names (`listed`: the
    sidecar has an `outputs` list; older ones hold only the logits)."""
    if names and all(n.startswith("stage") and n[5:].isdigit() for n in names):
        return OutputChoice("stages", tuple(int(n[5:]) for n in names))
    return OutputChoice("features") if listed and names == ["features"] else OutputChoice()


def choice_of(bundle: Any) -> OutputChoice:
    """The bundle's output choice (the logits for a bundle made without one)."""
    return getattr(bundle, "outputs", None) or OutputChoice()


def export_model(model: nn.Module, choice: OutputChoice, as_dict: bool = False) -> nn.Module:
    """What a converter exports: the model itself for the logits (today's graph, unchanged), else
    an OutputsModule returning the chosen outputs."""
    return model if choice.kind == "logits" else OutputsModule(model, choice, as_dict)


def exported_paths(paths: tuple[str, ...], choice: OutputChoice) -> tuple[str, ...]:
    """Module paths of the model as `export_model` wraps it: an OutputsModule holds the model as
    `model`, so a path such as 'levels.2' (an --exclude) becomes 'model.levels.2'."""
    return paths if choice.kind == "logits" else tuple(f"model.{p}" for p in paths)


def output_specs(choice: OutputChoice, config: dict[str, Any], batch: int, height: int, width: int) -> list[dict[str, Any]]:
    """Each output's name, shape, stride (input pixels per output pixel; None for vectors),
    channels and layout ("NC" for vectors, "NCHW" for maps), in output order."""
    dim = config["dim"]
    if choice.kind != "stages":
        channels = config["num_classes"] if choice.kind == "logits" and config.get("num_classes") else 8 * dim
        return [{"name": choice.kind, "shape": [batch, channels], "stride": None, "channels": channels, "layout": "NC"}]
    specs = []
    for i in choice.stages:
        stride, channels = 2 ** (i + 2), dim * 2**i
        shape = [batch, channels, math.ceil(height / stride), math.ceil(width / stride)]
        specs.append({"name": f"stage{i}", "shape": shape, "stride": stride, "channels": channels, "layout": "NCHW"})
    return specs


def is_backbone(model: nn.Module) -> bool:
    """Whether the model is the detection/segmentation backbone (stage maps only, no head)."""
    return isinstance(model, MambaVisionBackbone)


def stage_source(model: nn.Module) -> str:
    """What the stage maps are, for sidecars: the backbone's normed maps or a classifier's raw ones."""
    return "backbone out norms applied" if is_backbone(model) else "raw level outputs (classifier, no norm)"
