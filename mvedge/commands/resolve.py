"""The model a command works on, from its --weights / --variant / --image-size options."""

from __future__ import annotations

from mvedge.model.bundle import ModelBundle, load_bundle, size_note
from mvedge.progress import Progress


def model_from_options(weights: str | None, variant: str | None = None, image_size: int | None = None, labels: str | None = None) -> ModelBundle:
    """`load_bundle` for a command, with one note on stderr when the weights are random (the
    numbers it reports then say nothing about accuracy) and one when --image-size is far from the
    training size."""
    bundle = load_bundle(weights, variant, image_size, labels)
    progress = Progress()
    if bundle.random_weights:
        progress.note(f"note: no --weights: MambaVision-{bundle.name} with random weights (fine for timing, not accuracy)")
    note = size_note(bundle)
    if note:
        progress.note(note)
    return bundle
