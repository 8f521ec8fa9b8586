"""Images to check an artifact on: the user's folder, or a bundled default for the model's domain."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mvedge.data.images import denormalise, list_images, load_image, preprocess
from mvedge.data.photos import crops, packaged_photos
from mvedge.model.bundle import DIGITS, ModelBundle
from mvedge.model.preprocessing import Preprocessing
from mvedge.errors import BadInput

DEFAULT_LIMIT = 64


def verification_set(bundle: ModelBundle, images: str | Path | None = None, limit: int = DEFAULT_LIMIT) -> tuple[np.ndarray, np.ndarray | None, str]:
    """(preprocessed NCHW float32 images for the model's input channels, labels or None,
    description) for checking `bundle`: the folder `images`, else the held-out digits for a
    digits-domain model, else crops of packaged photos."""
    pre, channels = bundle.preprocessing, bundle.config["in_channels"]
    labels = None
    if images is not None:
        paths = list_images(images)[:limit]
        pictures, description = [load_image(p) for p in paths], f"{len(paths)} images from {images}"
    elif bundle.domain == DIGITS:
        from mvedge.data.digits import digits_split

        pictures, labels = digits_split("test")
        pictures, labels = pictures[:limit], np.asarray(labels[:limit])
        description = f"{len(pictures)} held-out digits"
    else:
        photos = packaged_photos()
        per_photo = max(1, -(-limit // len(photos)))
        pictures = [crop for photo in photos for crop in crops(photo, per_photo)][:limit]
        description = f"{len(pictures)} crops of {len(photos)} packaged photos"
    return np.stack([preprocess(p, pre, channels) for p in pictures]), labels, description


def as_the_app_feeds(images: np.ndarray, reference: dict, artifact: dict | None) -> np.ndarray:
    """The reference-preprocessed `images` re-expressed the way the artifact's sidecar tells an
    app to build its input (mean/std, channel order), from the same pixels.

    The artifact is thus checked together with the preprocessing it ships with: a sidecar with a
    wrong mean/std or a swapped channel order gives a different input and shows up as drift.
    (Resize and crop settings cannot be replayed from preprocessed images; they are not checked.)"""
    if not artifact:
        return images
    ref = Preprocessing.from_dict(reference, "the reference preprocessing")
    art_mean, art_std = _column(artifact.get("mean", ref.mean)), _column(artifact.get("std", ref.std))
    if len(ref.mean) != images.shape[1] or art_mean.shape[1] not in (1, images.shape[1]):
        raise BadInput(f"preprocessing has {art_mean.shape[1]} channel statistics, the images have {images.shape[1]} channels")
    pixels = denormalise(images, ref)  # back to [0, 1] pixel values
    if artifact.get("channels", ref.channels) != ref.channels:
        pixels = pixels[:, ::-1]
    return ((pixels - art_mean) / art_std).astype(np.float32)


def _column(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(1, -1, 1, 1)
