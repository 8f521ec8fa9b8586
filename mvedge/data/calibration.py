"""Calibration images for static quantization: the user's folder, or a bundled default."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mvedge.data.images import list_images, load_image, preprocess
from mvedge.model.bundle import DIGITS, ModelBundle
from mvedge.errors import BadInput

DEFAULT_CALIBRATION_LIMIT = 64


def calibration_set(bundle: ModelBundle, folder: str | Path | None = None, limit: int = DEFAULT_CALIBRATION_LIMIT) -> np.ndarray:
    """Preprocessed NCHW float32 images for the model's input channels: up to `limit` from `folder`
    (ValueError when it is missing or holds no images); by default the digits training split for
    a digits-domain model, crops of packaged photos for other models. Never the images drift
    checks use for the digits."""
    if limit < 1:
        raise BadInput(f"the calibration image limit must be >= 1, got {limit}")
    pre, channels = bundle.preprocessing, bundle.config["in_channels"]
    if folder is not None:
        pictures = [load_image(p) for p in list_images(folder)[:limit]]
    elif bundle.domain == DIGITS:
        from mvedge.data.digits import digits_split

        train, _ = digits_split("train")
        pictures = train[:: max(1, len(train) // limit)][:limit]
    else:
        from mvedge.data.photos import crops, packaged_photos

        photos = packaged_photos()
        per_photo = max(1, -(-limit // len(photos)))
        # a different crop sequence from the drift set's: offset the crop generator by one photo's worth
        pictures = [crop for photo in photos for crop in crops(photo, 2 * per_photo)[per_photo:]][:limit]
    return np.stack([preprocess(p, pre, channels) for p in pictures])
