"""A user's image folder (--images, --calibration, QAT --data) becomes model input exactly like the
bundled images do, the channel adapter included, for models with another channel count than 3."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import mvedge
from mvedge.data.calibration import calibration_set
from mvedge.data.images import list_images, load_image, preprocess
from mvedge.model.bundle import ModelBundle
from mvedge.model.configs import test_config
from mvedge.model.preprocessing import Preprocessing
from mvedge.quant.data import batches, image_folder
from mvedge.verify.data import verification_set


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(5)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (20 + i, 24, 3), dtype=np.uint8), "RGB").save(root / f"{i}.png")
    return root


def _bundle(channels: int) -> ModelBundle:
    model = mvedge.build(**test_config("tiny", in_channels=channels)).eval()
    return ModelBundle(model, "custom", dict(model.config), Preprocessing(input_size=16), source="random")


def _expected(folder: Path, channels: int) -> np.ndarray:
    """RGB preprocessing, then the RGB planes averaged and repeated to the model's channel count."""
    rgb = np.stack([preprocess(load_image(p), Preprocessing(input_size=16)) for p in list_images(folder)])
    return np.repeat(rgb.mean(axis=1, keepdims=True), channels, axis=1)


@pytest.mark.parametrize("channels", [1, 2])
def test_user_folders_get_the_channel_adapter(folder: Path, channels: int) -> None:
    bundle = _bundle(channels)
    expected = _expected(folder, channels)
    images, labels, _ = verification_set(bundle, folder)
    assert labels is None and images.dtype == np.float32 and np.array_equal(images, expected)
    assert np.array_equal(calibration_set(bundle, folder), expected)
    trained, _ = next(batches(image_folder(folder), bundle.preprocessing, 3, np.arange(3), channels))
    assert np.array_equal(trained.numpy(), expected)


def test_bundled_images_get_the_same_adapter() -> None:
    bundle = _bundle(1)
    images, _, _ = verification_set(bundle, limit=4)
    assert images.shape == (4, 1, 16, 16) and calibration_set(bundle, limit=4).shape == (4, 1, 16, 16)


def test_rgb_models_get_the_rgb_planes(folder: Path) -> None:
    images, _, _ = verification_set(_bundle(3), folder)
    assert np.array_equal(images, np.stack([preprocess(load_image(p), Preprocessing(input_size=16)) for p in list_images(folder)]))
