"""What a sidecar tells an app about each converted artifact: the output's name and dtype, a
dynamic ONNX batch, TFLite's signature names, a Core ML image input described as an image, the
weights' license and the hash of the source checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvedge.artifact import read_sidecar, sha256_of
from mvedge.model.bundle import load_bundle


def test_onnx_records_its_dynamic_batch_and_output(converted) -> None:
    sidecar = read_sidecar(converted("digits", "onnx", "fp32"))
    assert sidecar.input.dynamic_batch and sidecar.output.dynamic_batch
    assert sidecar.input.shape[0] == 1  # the exported batch stays a number for readers that index it
    assert (sidecar.output.name, sidecar.output.dtype) == ("logits", "float32")


def test_tflite_records_the_signature_names_the_app_calls(converted) -> None:
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    path = converted("digits", "tflite", "fp32")
    sidecar = read_sidecar(path)
    signature = litert.Interpreter(model_path=str(path)).get_signature_list()
    ((key, names),) = signature.items()
    assert sidecar.conversion["signature"] == key
    assert [sidecar.input.name] == names["inputs"] and [sidecar.output.name] == names["outputs"]
    assert sidecar.output.dtype == "float32" and not sidecar.input.dynamic_batch


def test_executorch_records_its_output(converted) -> None:
    sidecar = read_sidecar(converted("digits", "executorch", "fp32"))
    assert (sidecar.output.name, sidecar.output.dtype, sidecar.output.shape) == ("logits", "float32", [1, 10])


def test_a_core_ml_image_input_is_described_as_an_rgb_image(converted) -> None:
    sidecar = read_sidecar(converted("digits", "coreml", "fp16"))
    assert (sidecar.input.dtype, sidecar.input.color_layout) == ("image", "RGB")
    assert sidecar.input.shape == [1, 3, 128, 128] and sidecar.output.name == "logits"
    assert sidecar.output.dtype in ("float32", "float16")


def test_the_embedded_model_records_mvedges_license_and_no_source_hash(converted) -> None:
    sidecar = read_sidecar(converted("digits", "onnx", "fp32"))
    assert "Apache-2.0" in sidecar.license and sidecar.source_sha256 is None


def test_a_checkpoint_records_its_hash_and_random_weights_no_license(small_checkpoint: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from converters.pipeline import convert
    from mvedge.progress import Progress

    artifact = convert(load_bundle(str(small_checkpoint)), "onnx", "fp32", tmp_path / "a", verify=False, progress=Progress(quiet=True))
    sidecar = read_sidecar(artifact.path)
    assert sidecar.source_sha256 == sha256_of(small_checkpoint)
    random = convert(load_bundle(variant="T", image_size=32), "onnx", "fp32", tmp_path / "b", verify=False, progress=Progress(quiet=True))
    assert read_sidecar(random.path).license == "none (random weights)" and read_sidecar(random.path).source_sha256 is None


def test_official_weights_record_nvidias_license() -> None:
    from mvedge.model.bundle import weights_license

    bundle = load_bundle(variant="T", image_size=32)
    bundle.source = "mambavision_tiny_1k.pth.tar"
    assert weights_license(bundle) == "NVIDIA Source Code License-NC"
