"""Calibration images for static quantization: the user's folder, or a bundled default."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mvedge.model.bundle import ModelBundle

DEFAULT_CALIBRATION_LIMIT = 64


def calibration_set(bundle: ModelBundle, folder: str | Path | None = None, limit: int = DEFAULT_CALIBRATION_LIMIT) -> np.ndarray:
    """Preprocessed NCHW float32 images: up to `limit` from `folder` (ValueError when it is missing
    or holds no images); by default the digits training split for the embedded model, crops of
    packaged photos for other models. Never the images drift checks use for the embedded model."""
    from mvedge.data.images import list_images, load_image, preprocess

    if limit < 1:
        raise ValueError(f"the calibration image limit must be >= 1, got {limit}")
    pre = bundle.preprocessing
    if folder is not None:
        paths = list_images(folder)[:limit]
        return np.stack([preprocess(load_image(p), pre) for p in paths]).astype(np.float32)
    if bundle.source == "embedded":
        from mvedge.data.digits import digits_split

        pictures, _ = digits_split("train")
        step = max(1, len(pictures) // limit)
        return np.stack([preprocess(p, pre) for p in pictures[::step][:limit]]).astype(np.float32)
    from mvedge.data.photos import crops, packaged_photos

    photos = packaged_photos()
    per_photo = max(1, -(-limit // len(photos)))
    # a different crop sequence from the drift set's: offset the crop generator by one photo's worth
    pictures = [crop for photo in photos for crop in crops(photo, 2 * per_photo)[per_photo:]][:limit]
    batch = np.stack([preprocess(p, pre) for p in pictures]).astype(np.float32)
    channels = bundle.config["in_channels"]
    return batch if channels == 3 else np.repeat(batch.mean(axis=1, keepdims=True), channels, axis=1)
