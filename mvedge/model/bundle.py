"""A model together with what converters and apps need to ship it: name, config, preprocessing, labels."""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from typing import Any

from mvedge.model.checkpoints import load_checkpoint
from mvedge.model.configs import canonical_variant, config
from mvedge.model.mambavision import MambaVision, build
from mvedge.model.preprocessing import Preprocessing, preprocessing


@dataclass
class ModelBundle:
    """An eval-mode model and its metadata."""

    model: MambaVision
    name: str
    config: dict[str, Any]
    preprocessing: Preprocessing
    labels: list[str] | None = None
    source: str = ""  # checkpoint path, "embedded" or "random"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def image_size(self) -> int:
        """The input side the model is converted at."""
        return self.preprocessing.input_size


def load_bundle(weights: str | None = None, variant: str | None = None, image_size: int | None = None) -> ModelBundle:
    """The model a command works on: a checkpoint, else a named variant with random weights (a
    warning says so), else the embedded default digits model."""
    if weights:
        model = load_checkpoint(weights, variant=variant)
        name = getattr(model, "variant", None) or "custom"
        pre = preprocessing(name) if name in _known_variants() else Preprocessing(input_size=model.config["image_size"])
        bundle = ModelBundle(model, name, dict(model.config), pre, None, str(weights))
    elif variant:
        name = canonical_variant(variant)
        warnings.warn(f"no --weights given: MambaVision-{name} with random weights (fine for timing, not for accuracy)", stacklevel=2)
        model = build(**config(name)).eval()
        bundle = ModelBundle(model, name, dict(model.config), preprocessing(name), None, "random")
    else:
        from mvedge.model.embedded import DEFAULT_MODEL_NAME, default_model_info, default_preprocessing, load_default_model

        model = load_default_model()
        info = default_model_info()
        bundle = ModelBundle(model, DEFAULT_MODEL_NAME, dict(model.config), default_preprocessing(), list(info["labels"]), "embedded")
    if image_size is not None:
        if image_size < 1:
            raise ValueError(f"--image-size must be a positive integer, got {image_size}")
        bundle.preprocessing = dataclasses.replace(bundle.preprocessing, input_size=image_size)
        bundle.config["image_size"] = image_size
    return bundle


def _known_variants() -> tuple[str, ...]:
    from mvedge.model.configs import VARIANTS

    return VARIANTS
