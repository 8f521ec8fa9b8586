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
