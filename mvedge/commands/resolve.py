"""The model a command works on, from its --weights / --variant / --image-size / --labels /
--num-classes options."""

from __future__ import annotations

from mvedge.model.bundle import ModelBundle, load_bundle, size_note
from mvedge.progress import Progress


def model_from_options(
    weights: str | None,
    variant: str | None = None,
    image_size: int | str | None = None,
    labels: str | None = None,
    num_classes: int | None = None,
    backbone: bool = False,
) -> ModelBundle:
    """`load_bundle` for a command, with one note on stderr when the weights are random (the
    numbers it reports then say nothing about accuracy), one when the head is new and untrained,
    and one when --image-size is far from the training size."""
    bundle = load_bundle(weights, variant, image_size, labels, num_classes, backbone)
    progress = Progress()
    if bundle.random_weights:
        progress.note(f"note: no --weights: MambaVision-{bundle.name} with random weights (fine for timing, not accuracy)")
    if bundle.extra.get("untrained_head"):
        progress.note(bundle.extra["untrained_head"])
    note = size_note(bundle)
    if note:
        progress.note(note)
    return bundle
