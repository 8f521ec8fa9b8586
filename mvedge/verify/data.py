"""Real images for drift checks, with no download: the held-out digits for the embedded model,
photos that ship inside installed packages for natural-image models, or the user's folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mvedge.data.images import list_images, load_image, preprocess
from mvedge.data.photos import crops, packaged_photos
from mvedge.model.bundle import ModelBundle

DEFAULT_LIMIT = 64


def verification_set(bundle: ModelBundle, images: str | Path | None = None, limit: int = DEFAULT_LIMIT) -> tuple[np.ndarray, np.ndarray | None, str]:
    """(preprocessed NCHW float32 images, labels or None, description) for checking `bundle`."""
    pre = bundle.preprocessing
    if images is not None:
        paths = list_images(images)[:limit]
        batch = np.stack([preprocess(load_image(p), pre) for p in paths])
        return batch, None, f"{len(paths)} images from {images}"
    if bundle.source == "embedded":
        from mvedge.data.digits import digits_split

        pictures, labels = digits_split("test")
        pictures, labels = pictures[:limit], np.asarray(labels[:limit])
        batch = np.stack([preprocess(p, pre) for p in pictures])
        return batch, labels, f"{len(pictures)} held-out digits"
    photos = packaged_photos()
    per_photo = max(1, -(-limit // len(photos)))
    pictures = [crop for photo in photos for crop in crops(photo, per_photo)][:limit]
    batch = np.stack([preprocess(p, pre) for p in pictures])
    channels = bundle.config["in_channels"]
    if channels != 3:  # grayscale or other channel counts: average / repeat the RGB planes
        batch = np.repeat(batch.mean(axis=1, keepdims=True), channels, axis=1)
    return batch.astype(np.float32), None, f"{len(pictures)} crops of {len(photos)} packaged photos"


def as_the_app_feeds(images: np.ndarray, reference: dict, artifact: dict | None) -> np.ndarray:
    """The reference-preprocessed `images` re-expressed the way the artifact's sidecar tells an
    app to build its input (mean/std, channel order), from the same pixels.

    The artifact is thus checked together with the preprocessing it ships with: a sidecar with a
    wrong mean/std or a swapped channel order gives a different input and shows up as drift.
    (Resize and crop settings cannot be replayed from preprocessed images; they are not checked.)"""
    if not artifact:
        return images
    ref_mean, ref_std = _column(reference["mean"]), _column(reference["std"])
    art_mean, art_std = _column(artifact.get("mean", reference["mean"])), _column(artifact.get("std", reference["std"]))
    if ref_mean.shape[1] != images.shape[1] or art_mean.shape[1] not in (1, images.shape[1]):
        raise ValueError(f"preprocessing has {art_mean.shape[1]} channel statistics, the images have {images.shape[1]} channels")
    pixels = images.astype(np.float64) * ref_std + ref_mean  # back to [0, 1] pixel values
    if artifact.get("channels", reference.get("channels", "RGB")) != reference.get("channels", "RGB"):
        pixels = pixels[:, ::-1]
    return ((pixels - art_mean) / art_std).astype(np.float32)


def _column(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(1, -1, 1, 1)
