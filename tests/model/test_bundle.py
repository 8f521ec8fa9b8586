"""load_bundle, the one model resolution: checkpoints, QAT checkpoint metadata, the data domain,
the --image-size override and the random-weights flag."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from mvedge.errors import BadInput
from mvedge.model.bundle import load_bundle
from mvedge.quant.checkpoint import save_qat_checkpoint


def save_digits_qat_checkpoint(path: Path, target: str = "executorch") -> Path:
    """A QAT checkpoint of the embedded digits model with the metadata `mvedge qat` writes (no
    training: the weights are the embedded model's; only the metadata matters for resolution)."""
    base = load_bundle()
    info = {
        "target": target,
        "observer": "minmax",
        "convert_options": {},
        "exclude": [],
        "base_name": base.name,
        "base_source": base.source,
        "preprocessing": base.preprocessing.to_dict(),
        "labels": base.labels,
    }
    save_qat_checkpoint(base.model, path, info)
    return path


@pytest.fixture(scope="module")
def digits_qat(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_digits_qat_checkpoint(tmp_path_factory.mktemp("qat") / "digits-qat.safetensors")


def test_the_embedded_model_is_the_digits_domain() -> None:
    bundle = load_bundle()
    assert bundle.source == "embedded" and bundle.domain == "digits" and not bundle.random_weights


def test_a_qat_checkpoint_of_the_digits_model_resolves_as_the_digits_model(digits_qat: Path) -> None:
    base, qat = load_bundle(), load_bundle(str(digits_qat))
    assert qat.name == "mambavision-digits-qat-executorch"
    assert qat.preprocessing == base.preprocessing and qat.labels == base.labels
    assert qat.domain == "digits" and qat.source == str(digits_qat)
    assert qat.extra["qat"]["target"] == "executorch" and qat.image_size == base.image_size == qat.config["image_size"]


def test_other_checkpoints_and_random_weights_are_photos(small_checkpoint: Path) -> None:
    plain = load_bundle(str(small_checkpoint))
    assert plain.domain == "photos" and plain.name == "custom" and plain.preprocessing.mean == (0.485, 0.456, 0.406)
    assert load_bundle(variant="T", image_size=32).domain == "photos"


def test_image_size_overrides_the_checkpoint_once(digits_qat: Path) -> None:
    base, qat = load_bundle(), load_bundle(str(digits_qat), image_size=64)
    assert qat.preprocessing.input_size == qat.config["image_size"] == qat.image_size == 64
    assert qat.preprocessing.mean == base.preprocessing.mean and qat.preprocessing.crop_mode == base.preprocessing.crop_mode
    assert load_bundle(image_size=96).config["image_size"] == 96
    for size in (0, -3):
        with pytest.raises(BadInput, match="--image-size must be a positive integer"):
            load_bundle(image_size=size)


def test_random_weights_are_a_flag_not_a_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nobody sees a library warning; the command layer prints the note
        bundle = load_bundle(variant="t", image_size=32)
    assert bundle.random_weights and bundle.source == "random" and bundle.name == "T"
