"""load_bundle, the one model resolution: checkpoints, QAT checkpoint metadata, the data domain,
the --image-size override and the random-weights flag."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from mvedge.errors import BadInput
from mvedge.model.bundle import load_bundle, with_labels_file
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


# ------------------------------------------------------------------ class names


def test_official_variants_by_name_carry_the_imagenet_class_names() -> None:
    labels = load_bundle(variant="T", image_size=32).labels
    assert labels is not None and len(labels) == 1000
    assert (labels[0], labels[1], labels[207], labels[281], labels[999]) == ("tench", "goldfish", "golden retriever", "tabby", "toilet tissue")


def test_an_official_checkpoint_carries_the_imagenet_class_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint detected as an official variant (here a tiny model with a 1000-class head,
    detected as T) gets the ImageNet-1K names; a custom one keeps none."""
    import mvedge.model.bundle as bundle_module
    from mvedge.model.configs import test_config
    from mvedge.model.mambavision import build

    model = build(**{**test_config("tiny"), "num_classes": 1000}).eval()
    model.variant = "T"
    monkeypatch.setattr(bundle_module, "load_checkpoint_file", lambda source, variant=None: model)
    bundle = load_bundle("model.safetensors")
    assert bundle.labels is not None and bundle.labels[281] == "tabby" and len(bundle.labels) == 1000


def test_a_custom_checkpoint_has_no_class_names(small_checkpoint: Path) -> None:
    assert load_bundle(str(small_checkpoint)).labels is None


def test_a_labels_file_names_the_classes(small_checkpoint: Path, tmp_path: Path) -> None:
    path = tmp_path / "labels.txt"
    path.write_text("".join(f"class {i}\n" for i in range(10)))
    assert load_bundle(str(small_checkpoint), labels=str(path)).labels == [f"class {i}" for i in range(10)]
    assert load_bundle(labels=str(path)).labels == [f"class {i}" for i in range(10)]  # replaces the digits' own


@pytest.mark.parametrize(
    "text, problem",
    [("".join(f"c{i}\n" for i in range(9)), "9 names"), ("a\n\nb\n" + "".join(f"c{i}\n" for i in range(7)), "line 2 is blank"), ("", "no names")],
)
def test_a_bad_labels_file_is_one_line(small_checkpoint: Path, tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "labels.txt"
    path.write_text(text)
    with pytest.raises(BadInput, match=problem) as caught:
        load_bundle(str(small_checkpoint), labels=str(path))
    assert "\n" not in str(caught.value)


def test_a_missing_labels_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="does not exist"):
        load_bundle(labels=str(tmp_path / "nope.txt"))


def test_a_labels_file_for_a_features_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "labels.txt"
    path.write_text("a\nb\n")
    bundle = load_bundle()
    bundle.config["num_classes"] = None  # a head-less model returns pooled features
    with pytest.raises(BadInput, match="no class"):
        with_labels_file(bundle, str(path))
