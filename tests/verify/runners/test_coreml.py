"""Core ML runner: feeds image or tensor inputs as the model expects, returns logits or the
classifier's probabilities in label order, and knows where Core ML itself cannot run."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ct = pytest.importorskip("coremltools")

import mvedge  # noqa: E402
from converters.base import ConvertOptions  # noqa: E402
from converters.coreml import CoreMLConverter  # noqa: E402
from mvedge.model.bundle import ModelBundle  # noqa: E402
from mvedge.model.configs import test_config  # noqa: E402
from mvedge.model.preprocessing import Preprocessing  # noqa: E402
from mvedge.progress import Progress  # noqa: E402
from mvedge.verify.runners import RuntimeUnavailable, open_runner  # noqa: E402
from mvedge.verify.runners.coreml import CoreMLRunner  # noqa: E402
from tests.sidecars import write_test_sidecar  # noqa: E402

TINY = test_config("tiny", image_size=32, num_classes=4)
MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


@pytest.fixture(scope="module")
def tiny() -> ModelBundle:
    torch.manual_seed(0)
    model = mvedge.build(**TINY).eval()
    return ModelBundle(model, "tiny", dict(model.config), Preprocessing(input_size=32, mean=MEAN, std=STD), ["w", "x", "y", "z"], "random")


@pytest.fixture(scope="module")
def image_model(tiny, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("coreml") / "image.mlpackage"
    CoreMLConverter().convert(tiny, ConvertOptions("fp32", 32), path, Progress(quiet=True))
    return path


def _batch(n: int) -> tuple[np.ndarray, np.ndarray]:
    pixels = np.random.default_rng(0).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    x = ((pixels / 255.0 - np.array(MEAN)) / np.array(STD)).astype(np.float32).transpose(0, 3, 1, 2)
    return pixels, x


def test_image_input_gets_the_original_pixels_and_returns_logits(tiny, image_model) -> None:
    runner = open_runner(image_model)
    assert isinstance(runner, CoreMLRunner) and runner.image_input and runner.output_name == "logits"
    pixels, x = _batch(3)
    np.testing.assert_array_equal(runner.pixels(x), pixels)
    out = runner.run_all(x)
    with torch.no_grad():
        ref = tiny.model(torch.from_numpy(x)).numpy()
    assert out.shape == (3, 4) and np.abs(out - ref).max() < 1e-5


def test_sidecar_preprocessing_wins_over_metadata(image_model, tmp_path: Path) -> None:
    """The runner un-normalises with the sidecar's mean/std: a wrong one gives wrong pixels."""
    import shutil

    copy = tmp_path / "image.mlpackage"
    shutil.copytree(image_model, copy)
    preprocessing = Preprocessing(input_size=32, mean=(0.0,) * 3, std=(1.0,) * 3).to_dict()
    write_test_sidecar(copy, target="coreml", shape=(1, 3, 32, 32), dtype="uint8", classes=4, preprocessing=preprocessing)
    pixels, x = _batch(1)
    assert not np.array_equal(open_runner(copy).pixels(x), pixels)


def test_tensor_input_is_fed_as_is(tiny, tmp_path: Path) -> None:
    path = tmp_path / "tensor.mlpackage"
    CoreMLConverter().convert(tiny, ConvertOptions("fp32", 32, batch=2, extra={"tensor_input": True}), path, Progress(quiet=True))
    write_test_sidecar(path, target="coreml", shape=(2, 3, 32, 32), classes=4, conversion={"input_kind": "tensor"})
    runner = open_runner(path)
    assert not runner.image_input
    x = np.random.default_rng(3).standard_normal((4, 3, 32, 32)).astype(np.float32)
    out = runner.run_all(x)  # two batches of 2
    with torch.no_grad():
        ref = tiny.model(torch.from_numpy(x)).numpy()
    assert np.abs(out - ref).max() < 1e-5


def test_a_classifier_without_logits_gives_probabilities_in_its_label_order(tmp_path: Path) -> None:
    from coremltools.converters.mil.mil import Builder as mb

    program = mb.program(input_specs=[mb.TensorSpec(shape=(1, 4))], opset_version=ct.target.iOS17)(lambda x: mb.softmax(x=x, axis=-1))
    labels = ["d", "b", "a", "c"]  # not sorted: the order must come from the model
    model = ct.convert(program, convert_to="mlprogram", compute_precision=ct.precision.FLOAT32, classifier_config=ct.ClassifierConfig(labels), skip_model_load=True)
    path = tmp_path / "cls.mlpackage"
    model.save(str(path))
    runner = open_runner(path)
    assert runner.output_name is None and runner.labels == labels
    x = np.array([[0.5, -1.0, 2.0, 0.0]], np.float32)
    out = runner.run(x)
    expected = np.exp(x) / np.exp(x).sum()
    np.testing.assert_allclose(out, expected, atol=1e-6)


@pytest.mark.skipif(sys.platform == "darwin", reason="Core ML runs on macOS")
def test_core_ml_backend_is_unavailable_off_macos(image_model) -> None:
    with pytest.raises(RuntimeUnavailable, match="needs macOS"):
        open_runner(image_model, backend="coreml")


def test_unknown_backend_is_an_error(image_model) -> None:
    with pytest.raises(ValueError, match="unknown Core ML backend"):
        open_runner(image_model, backend="metal")
