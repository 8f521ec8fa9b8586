"""scikit-learn's bundled handwritten digits as real images, with a fixed train / held-out split.

`sklearn.datasets.load_digits` ships with scikit-learn (no download): 1,797 8x8 images of the
digits 0-9, ink intensity 0..16. mvedge's embedded default model is trained and evaluated on them.

Split (fixed, documented, reproducible): `train_test_split(indices, test_size=0.2, stratify=labels,
random_state=0)`, each part sorted by dataset index -> 1,437 training and 360 held-out images
(35-37 per class). Rendering: white background, dark ink, pixel = round(255 - v * 255 / 16), as an
8x8 RGB PIL image; `Preprocessing` then resizes it to the model size exactly as it would a user's
photo or a drawing from a demo app's canvas.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

from mvedge.data.images import preprocess
from mvedge.model.preprocessing import Preprocessing

DIGIT_LABELS: list[str] = [str(i) for i in range(10)]
"""Class names of the digits model, index = class id."""

SPLIT_SEED = 0
"""random_state of the stratified split."""

TEST_FRACTION = 0.2
"""Held-out fraction of the stratified split."""

SPLITS = ("train", "test")


@lru_cache(maxsize=1)
def _dataset() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(images (N, 8, 8) in 0..16, labels (N,), split name -> sorted dataset indices)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = np.asarray(digits.images, dtype=np.float64)
    labels = np.asarray(digits.target, dtype=np.int64)
    train, test = train_test_split(
        np.arange(len(labels)), test_size=TEST_FRACTION, stratify=labels, random_state=SPLIT_SEED
    )
    return images, labels, {"train": np.sort(train), "test": np.sort(test)}


def split_indices(split: str) -> np.ndarray:
    """Dataset indices (into load_digits()) of a split, ascending."""
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return _dataset()[2][split].copy()


def render_digit(values: np.ndarray) -> Image.Image:
    """One 8x8 digit (ink 0..16) as an RGB picture: white background, dark ink."""
    gray = np.round(255.0 - np.asarray(values, dtype=np.float64) * (255.0 / 16.0))
    gray = np.clip(gray, 0, 255).astype(np.uint8)
    return Image.fromarray(np.repeat(gray[:, :, None], 3, axis=2), mode="RGB")


def digits_split(split: str) -> tuple[list[Image.Image], np.ndarray]:
    """The images (8x8 RGB PIL) and labels (int64) of the 'train' or 'test' (held-out) split."""
    indices = split_indices(split)
    images, labels, _ = _dataset()
    return [render_digit(images[i]) for i in indices], labels[indices].copy()


def digits_tensor(split: str, pre: Preprocessing):
    """A split preprocessed for a model: (float32 tensor (N, 3, S, S), int64 label tensor (N,))."""
    import torch

    images, labels = digits_split(split)
    batch = np.stack([preprocess(image, pre) for image in images])
    return torch.from_numpy(batch), torch.from_numpy(labels)
