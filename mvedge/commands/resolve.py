"""The model a command works on, from its --weights / --variant / --image-size options."""

from __future__ import annotations

import sys

from mvedge.model.bundle import ModelBundle, load_bundle


def model_from_options(weights: str | None, variant: str | None = None, image_size: int | None = None, labels: str | None = None) -> ModelBundle:
    """`load_bundle` for a command, with one note on stderr when the weights are random (the
    numbers it reports then say nothing about accuracy)."""
    bundle = load_bundle(weights, variant, image_size, labels)
    if bundle.random_weights:
        print(f"note: no --weights: MambaVision-{bundle.name} with random weights (fine for timing, not accuracy)", file=sys.stderr)
    return bundle
