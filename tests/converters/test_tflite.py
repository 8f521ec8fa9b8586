"""TFLite / LiteRT converter: every precision through the pipeline, checked in ai-edge-litert.

The float32 litert-torch conversion is the slow step (~20 s here); it is tested once, and the
quantized precisions reuse its flatbuffer (they quantize it with ai-edge-quantizer, as the
converter does) so the file stays within its time budget.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("ai_edge_litert.interpreter")
pytest.importorskip("ai_edge_quantizer")
litert_torch = pytest.importorskip("litert_torch")

from converters import tflite as tflite_converter  # noqa: E402
from converters.base import ConversionError, ConvertOptions  # noqa: E402
from converters.pipeline import VerificationFailed, convert  # noqa: E402
from mvedge.quant.litert import widen_degenerate_ranges  # noqa: E402
from mvedge.model.bundle import ModelBundle, load_bundle  # noqa: E402
from mvedge.model.checkpoints import CheckpointError  # noqa: E402
from mvedge.data.calibration import calibration_set  # noqa: E402
from mvedge.verify.data import verification_set  # noqa: E402
from mvedge.verify.runners import open_runner  # noqa: E402

CALIBRATION_IMAGES = 16  # enough for the digits model; the pipeline's default is 64


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    """The embedded digits model: trained, so int8 top-1 agreement is meaningful and the scan matters."""
    try:
        return load_bundle()
    except (CheckpointError, FileNotFoundError) as exc:
        pytest.skip(f"the embedded digits model is not available: {exc}")


@pytest.fixture(scope="module")
def few_images(bundle: ModelBundle):
    """32 held-out digits with labels: the drift set for the quantized precisions (quicker than 64)."""
    return verification_set(bundle, limit=32)


@pytest.fixture(scope="module")
def fp32_artifact(bundle: ModelBundle, tmp_path_factory: pytest.TempPathFactory):
    """The fp32 litert-torch artifact, converted and verified once through the pipeline."""
    return convert(bundle, "tflite", "fp32", tmp_path_factory.mktemp("fp32"))


@pytest.fixture(scope="module")
def float_flatbuffer(fp32_artifact) -> bytes:
    """The float32 flatbuffer (NCHW input) the quantized precisions start from."""
    return fp32_artifact.path.read_bytes()


@pytest.fixture
def reuse_float(monkeypatch, float_flatbuffer: bytes) -> None:
    """Make the converter reuse the module's float32 flatbuffer instead of converting again."""
    monkeypatch.setattr(tflite_converter, "litert_torch_float32", lambda model, example, nhwc, progress, signatures=None: float_flatbuffer)


def _sidecar(artifact) -> dict:
    return json.loads(artifact.path.with_name(artifact.path.name + ".json").read_text())


def test_fp32_litert_torch(fp32_artifact) -> None:
    artifact = fp32_artifact
    assert artifact.path.name == "mambavision-digits-128-tflite-fp32.tflite"
    assert artifact.drift.psnr_db > 80 and artifact.drift.top1_agreement == 1.0
    sidecar = _sidecar(artifact)
    conversion = sidecar["conversion"]
    assert conversion["route"] == "litert-torch" and conversion["flex_ops"] == [] and conversion["custom_ops"] == []
    assert {"FULLY_CONNECTED", "BATCH_MATMUL", "CONV_2D", "EXP"} <= set(conversion["ops"])
    assert "CUMSUM" not in conversion["ops"]  # the scan is the log-step form, no cumsum
    assert conversion["xnnpack"]["runs"] and conversion["xnnpack"]["partitions"] >= 1
    size = artifact.sidecar.config["image_size"]
    assert sidecar["input"]["layout"] == "NCHW" and sidecar["input"]["shape"] == [1, 3, size, size]
    assert sidecar["input"]["dtype"] == "float32" and sidecar["input"]["quantization"] is None
    assert sidecar["toolchain"]["litert-torch"] and sidecar["toolchain"]["ai-edge-litert"]
    assert not list(artifact.path.parent.glob(".mvedge-*"))


@pytest.mark.parametrize(
    ("precision", "extra", "max_size_ratio"),
    [
        ("fp16", {}, 0.6),
        ("int8-dynamic", {}, 0.4),
        ("int8", {}, 0.4),
        ("int8", {"all_integer": True}, 0.4),
    ],
)
def test_quantized_precisions(bundle, tmp_path: Path, reuse_float, float_flatbuffer, few_images, precision, extra, max_size_ratio) -> None:
    calibration = calibration_set(bundle, limit=CALIBRATION_IMAGES) if precision == "int8" else None
    options = ConvertOptions(precision, bundle.image_size, calibration=calibration, extra=dict(extra))
    artifact = convert(bundle, "tflite", precision, tmp_path, options, images=few_images)  # VerificationFailed past the threshold
    assert artifact.drift is not None and artifact.verify_note == "verified"
    assert artifact.size_bytes <= max_size_ratio * len(float_flatbuffer)
    sidecar = _sidecar(artifact)
    conversion = sidecar["conversion"]
    assert conversion["quantizer"] == "ai-edge-quantizer" and conversion["flex_ops"] == []
    types = conversion["tensor_types"]
    if precision == "fp16":
        assert types.get("FLOAT16", 0) > 0 and "DEQUANTIZE" in conversion["ops"]
    if precision == "int8-dynamic":
        assert types.get("INT8", 0) > 0 and sidecar["input"]["dtype"] == "float32"
    if precision == "int8":
        assert conversion["calibration_images"] == CALIBRATION_IMAGES
        nearly_all_integer = types["INT8"] > 4 * types.get("FLOAT32", 0)
        assert nearly_all_integer == bool(extra.get("all_integer"))  # the default keeps scan, norms, softmax, GELU, matmuls float
        assert sidecar["input"]["dtype"] == "float32" and sidecar["input"]["quantization"] is None
        assert "QUANTIZE" in conversion["ops"] and "DEQUANTIZE" in conversion["ops"]  # float I/O converted inside
        assert conversion["all_integer"] == bool(extra.get("all_integer"))
        if not extra.get("all_integer"):
            assert conversion["float_parts"] == ["scan", "norms", "softmax", "gelu", "matmuls"] and conversion["scan_tensors_in_float_model"] > 0


def test_int8_nhwc_with_integer_io(bundle, tmp_path: Path, few_images) -> None:
    """What a phone NPU app asks for: NHWC input, full-integer int8 with int8 input and output."""
    options = ConvertOptions(
        "int8",
        bundle.image_size,
        calibration=calibration_set(bundle, limit=CALIBRATION_IMAGES),
        extra={"nhwc": True, "io_dtype": "int8", "all_integer": True},
    )
    artifact = convert(bundle, "tflite", "int8", tmp_path, options, images=few_images)
    sidecar = _sidecar(artifact)
    size = bundle.image_size
    assert sidecar["input"]["layout"] == "NHWC" and sidecar["input"]["shape"] == [1, size, size, 3]
    assert sidecar["input"]["dtype"] == "int8" and set(sidecar["input"]["quantization"]) == {"scale", "zero_point"}
    assert sidecar["output"]["quantization"]["scale"] > 0 and sidecar["conversion"]["calibration_images"] == CALIBRATION_IMAGES
    types = sidecar["conversion"]["tensor_types"]
    assert types["INT8"] > 4 * types.get("FLOAT32", 0)  # (nearly) full-integer
    assert sidecar["output"]["dtype"] == "int8"  # an app reading the output needs its type, not only its scale
    runner = open_runner(artifact.path)
    assert runner.layout == "NHWC" and tuple(runner.input["shape"]) == (1, size, size, 3)
    images, _, _ = verification_set(bundle, limit=8)
    with torch.no_grad():
        ref = bundle.model(torch.from_numpy(images)).numpy()
    out = runner.run(images)
    assert (out.argmax(1) == ref.argmax(1)).mean() >= 0.85
    # the layout matters: the same file fed without the NHWC transpose is refused
    runner.layout = "NCHW"
    with pytest.raises(ValueError, match="does not match"):
        runner.run(images)


def test_a_wrong_model_fails_verification(bundle: ModelBundle, tmp_path: Path, reuse_float, few_images) -> None:
    """A flatbuffer that does not compute the bundle's model (the digits model's, checked against a
    copy whose classifier is negated) is refused, and nothing is written."""
    wrong = copy.deepcopy(bundle)
    head = [m for m in wrong.model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == wrong.config["num_classes"]][-1]
    with torch.no_grad():
        head.weight.mul_(-1.0)
        head.bias.mul_(-1.0)
    with pytest.raises(VerificationFailed, match="drifts past its threshold"):
        convert(wrong, "tflite", "fp32", tmp_path, images=few_images)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("precision", "extra", "message"),
    [
        ("fp32", {"via": "tf2onnx"}, "unknown tflite route"),
        ("fp32", {"io_dtype": "int8"}, "io_dtype=int8 needs precision int8"),
        ("int8", {"io_dtype": "uint16"}, "unknown io_dtype"),
        ("int8", {"via": "onnx2tf"}, "static int8 is not available via=onnx2tf"),
        ("fp32", {"onnx2tf_python": "/usr/bin/python3.12"}, "onnx2tf_python applies to via=onnx2tf only"),
        ("fp16", {"scan_fp32": True}, "scan_fp32 applies to int8 only"),
        ("fp32", {"all_integer": True}, "all_integer applies to int8 only"),
    ],
)
def test_refusals_before_converting(bundle, tmp_path: Path, precision, extra, message) -> None:
    size = bundle.image_size
    options = ConvertOptions(precision, size, calibration=np.zeros((2, 3, size, size), np.float32), extra=extra)
    with pytest.raises(ConversionError, match=message):
        convert(bundle, "tflite", precision, tmp_path, options)
    assert not any(p for p in tmp_path.iterdir() if not p.name.startswith("."))


def test_degenerate_calibration_ranges_are_widened() -> None:
    """A tensor that was zero on every calibration image must not get a ~4e-12 scale (XNNPACK aborts)."""
    stats = {
        "a": {"min": np.array([-1.0], np.float32), "max": np.array([3.0], np.float32)},
        "b": {"min": np.array([-0.5], np.float32), "max": np.array([0.5], np.float32)},
        "zero": {"min": np.array([0.0], np.float32), "max": np.array([0.0], np.float32)},
    }
    assert widen_degenerate_ranges(stats) == 1
    assert float(stats["zero"]["min"][0]) == 0.0 and float(stats["zero"]["max"][0]) == pytest.approx(2.5)
    assert float(stats["a"]["max"][0]) == 3.0


@pytest.fixture(scope="module")
def onnx2tf_fp32(onnx2tf_side_environment, bundle: ModelBundle, few_images, tmp_path_factory: pytest.TempPathFactory):
    """The digits model (64 tokens x 64 channels at level 2, the case onnx2tf 1.x got wrong)
    through onnx2tf 2.x in its side environment, made in the user's cache on first use (the
    session fixture `onnx2tf_side_environment`); skipped where no Python >= 3.12 exists."""
    pytest.importorskip("onnxruntime")
    options = ConvertOptions("fp32", bundle.image_size, extra={"via": "onnx2tf"})
    return convert(bundle, "tflite", "fp32", tmp_path_factory.mktemp("onnx2tf"), options, images=few_images)


def test_onnx2tf_route_fp32(onnx2tf_fp32) -> None:
    """torch -> ONNX -> onnx2tf 2.x -> .tflite, verified against the float model: as close as litert-torch's."""
    artifact = onnx2tf_fp32
    assert artifact.path.name == "mambavision-digits-128-tflite-fp32-onnx2tf.tflite"
    assert artifact.drift.psnr_db > 80 and artifact.drift.top1_agreement == 1.0
    sidecar = _sidecar(artifact)
    conversion = sidecar["conversion"]
    assert conversion["route"] == "onnx2tf" and conversion["flex_ops"] == [] and conversion["custom_ops"] == []
    assert conversion["onnx2tf"]["onnx2tf"] == "2.6.9" and conversion["onnx2tf"]["python"].startswith("3.1")
    assert sidecar["input"]["layout"] == "NCHW" and sidecar["input"]["name"] == "image"
    assert conversion["xnnpack"]["runs"]


def test_onnx2tf_route_fp16(onnx2tf_fp32, bundle, tmp_path: Path, monkeypatch, few_images) -> None:
    """fp16 via onnx2tf: its float32 model (reused from the fp32 test, as the converter would make
    it) with float16 weights, verified against the float model."""
    float_model = onnx2tf_fp32.path.read_bytes()  # the embedded metadata does not change the graph
    monkeypatch.setattr(tflite_converter, "_onnx2tf_float32", lambda *args: (float_model, {"onnx2tf": "2.6.9"}))
    options = ConvertOptions("fp16", bundle.image_size, extra={"via": "onnx2tf"})
    artifact = convert(bundle, "tflite", "fp16", tmp_path, options, images=few_images)
    assert artifact.path.name == "mambavision-digits-128-tflite-fp16-onnx2tf.tflite"
    assert artifact.drift.psnr_db > 60 and artifact.drift.top1_agreement == 1.0
    conversion = _sidecar(artifact)["conversion"]
    assert conversion["route"] == "onnx2tf" and conversion["tensor_types"].get("FLOAT16", 0) > 0


def test_float_model_check_catches_a_wrong_model(bundle: ModelBundle, float_flatbuffer: bytes) -> None:
    """The check the onnx2tf route runs before returning (onnx2tf silently mis-lays-out square
    token tensors, e.g. the digits model's 64 tokens x 64 channels at 128 px: PSNR 18 dB)."""
    images = calibration_set(bundle, limit=2)
    tflite_converter.check_float_model(float_flatbuffer, bundle.model, images, False, "onnx2tf")  # the right model passes
    wrong = copy.deepcopy(bundle.model)
    with torch.no_grad():
        for module in wrong.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.mul_(1.5)
    with pytest.raises(ConversionError, match="onnx2tf produced a model that disagrees with PyTorch"):
        tflite_converter.check_float_model(float_flatbuffer, wrong, images, False, "onnx2tf")
