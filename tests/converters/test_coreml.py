"""CoreML converter: every precision through the pipeline (verified in the MIL interpreter), image
input with folded normalisation, classifier output, scan kept in fp32, targets, metadata, refusals."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

ct = pytest.importorskip("coremltools")

from converters.base import ConversionError, ConvertOptions  # noqa: E402
from converters.coreml import CoreMLConverter, ExportModule, ImageNormalisation, fold_input_ratio, is_scan_op  # noqa: E402
from converters.pipeline import VerificationFailed, convert  # noqa: E402
from mvedge.artifact import sha256_of  # noqa: E402
from mvedge.verify.coreml_interpreter import MILInterpreter  # noqa: E402
from mvedge.verify.runners import open_runner  # noqa: E402
from mvedge.verify.thresholds import threshold_for  # noqa: E402

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _main_ops(path: Path) -> dict[str, int]:
    return MILInterpreter(path).op_types()


@pytest.mark.parametrize("precision", ["fp32", "fp16", "w8", "palette6", "palette4"])
def test_each_precision_converts_and_passes_its_drift_threshold(small_bundle, tmp_path: Path, precision: str) -> None:
    artifact = convert(small_bundle, "coreml", precision, tmp_path)
    name = f"mambavision-custom-{sha256_of(small_bundle.source)[:8]}-{small_bundle.image_size}-coreml-{precision}.mlpackage"
    assert artifact.path == tmp_path / name and artifact.path.is_dir()
    assert artifact.verify_note == "verified"
    limit = threshold_for(precision)
    assert artifact.drift.psnr_db >= limit.min_psnr_db and artifact.drift.cosine >= limit.min_cosine
    if precision == "fp32":
        assert artifact.drift.psnr_db > 100 and artifact.drift.max_abs < 1e-5
    sidecar = json.loads((tmp_path / f"{name}.json").read_text())
    assert sidecar["sha256"] == sha256_of(artifact.path) and sidecar["toolchain"]["coremltools"] == "9.0"
    assert sidecar["input"] == {
        "name": "image", "shape": [1, 3, 64, 64], "layout": "NCHW", "dtype": "image", "batch": 1,
        "dynamic_batch": False, "color_layout": "RGB", "quantization": None,
    }
    conversion = sidecar["conversion"]
    assert conversion["input_kind"] == "image" and conversion["minimum_target"] == "iOS17"
    assert conversion["image"]["channel_factor_folded_into_first_conv"]  # ImageNet std differs per channel
    ops = _main_ops(artifact.path)
    assert ("cast" in ops) == (precision != "fp32")  # fp16 compute: input/output casts
    if precision == "w8":
        assert conversion["compression"]["compressed_tensors"] == ops["constexpr_affine_dequantize"] >= 20
    elif precision.startswith("palette"):
        assert conversion["compression"]["compressed_tensors"] == ops["constexpr_lut_to_dense"] >= 20
    else:
        assert not any(k.startswith("constexpr") for k in ops)
    assert not list(tmp_path.glob(".mvedge-*"))
    fp32_bytes = 4 * sum(t.numel() for t in small_bundle.model.state_dict().values() if t.is_floating_point())
    limit = {"fp32": 1.1, "fp16": 0.6, "w8": 0.32, "palette6": 0.26, "palette4": 0.2}[precision]
    assert artifact.size_bytes <= limit * fp32_bytes  # of the raw fp32 weights; measured 107%, 58%, 30%, 25%, 18%


def test_image_input_is_exact_in_fp32(small_bundle, tmp_path: Path) -> None:
    """8-bit RGB in, normalisation inside the model (scale/bias + folded per-channel 1/std): the
    fp32 program reproduces the PyTorch model on the normalised image to float rounding."""
    from coremltools.converters.mil.frontend.torch.torch_op_registry import _TORCH_OPS_REGISTRY

    stock_gelu = _TORCH_OPS_REGISTRY.name_to_func_mapping["gelu"]
    path = tmp_path / "m.mlpackage"
    CoreMLConverter().convert(small_bundle, ConvertOptions("fp32", 64), path, _quiet())
    assert _TORCH_OPS_REGISTRY.name_to_func_mapping["gelu"] is stock_gelu  # workaround scoped to our conversion
    modes = [op.inputs["mode"].val for op in MILInterpreter(path).function.operations if op.op_type == "gelu"]
    # tanh GELU in the 2 conv blocks, exact GELU in the 4 MLPs (coremltools 9.0 alone makes all exact)
    assert sorted(modes) == ["EXACT"] * 4 + ["TANH_APPROXIMATION"] * 2
    pixels = np.random.default_rng(1).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    normalised = ((pixels / 255.0 - np.array(MEAN)) / np.array(STD)).astype(np.float32).transpose(0, 3, 1, 2)
    runner = open_runner(path)  # no sidecar: mean/std come from the model's metadata
    np.testing.assert_array_equal(runner.pixels(normalised), pixels)
    out = runner.run(normalised)
    with torch.no_grad():
        ref = small_bundle.model(torch.from_numpy(normalised)).numpy()
    assert np.abs(out - ref).max() <= 2e-5 * max(1.0, np.abs(ref).max())


def test_normalisation_folding_is_exact_in_pytorch(small_bundle) -> None:
    norm = ImageNormalisation.from_mean_std(MEAN, STD)
    pixels = torch.randint(0, 256, (2, 3, 64, 64)).double()
    y = pixels * norm.scale + torch.tensor(norm.bias, dtype=torch.float64).reshape(1, 3, 1, 1)
    expected = (pixels / 255.0 - torch.tensor(MEAN, dtype=torch.float64).reshape(1, 3, 1, 1)) / torch.tensor(STD, dtype=torch.float64).reshape(1, 3, 1, 1)
    ratio = torch.tensor(norm.ratio, dtype=torch.float64).reshape(1, 3, 1, 1)
    assert torch.allclose(y * ratio, expected, atol=1e-12) and not norm.uniform
    assert ImageNormalisation.from_mean_std((0.5,) * 3, (0.5,) * 3).uniform
    model = small_bundle.model
    with torch.no_grad():
        ref = model(expected.float())
        folded = fold_input_ratio(model, norm.ratio)
        assert folded is not None and folded is not model
        assert torch.allclose(folded(y.float()), ref, atol=1e-5)
        assert torch.allclose(ExportModule(model, norm.ratio)(y.float()), ref, atol=1e-5)  # fallback: explicit mul
    assert fold_input_ratio(torch.nn.Sequential(torch.nn.Conv2d(3, 3, 3)), norm.ratio) is None  # not a MambaVision stem


def test_tensor_input_ios18_w8(small_bundle, tmp_path: Path) -> None:
    options = ConvertOptions("w8", 64, extra={"tensor_input": True, "minimum_target": "iOS18"})
    artifact = convert(small_bundle, "coreml", "w8", tmp_path, options=options)
    assert artifact.verify_note == "verified"
    assert artifact.sidecar.input.dtype == "float32" and artifact.sidecar.conversion["input_kind"] == "tensor"
    spec = ct.utils.load_spec(str(artifact.path))
    assert spec.specificationVersion == 9 and spec.description.input[0].type.WhichOneof("Type") == "multiArrayType"
    assert _main_ops(artifact.path).get("constexpr_blockwise_shift_scale", 0) >= 20


def test_a_wrong_normalisation_fails_the_drift_check(small_bundle, tmp_path: Path, monkeypatch) -> None:
    """Dropping the per-channel part of 1/std (a plausible bug) is caught by the fp32 drift check."""
    original = ImageNormalisation.from_mean_std.__func__

    def no_ratio(cls, mean, std):
        norm = original(cls, mean, std)
        return ImageNormalisation(norm.scale, norm.bias, (1.0, 1.0, 1.0))

    monkeypatch.setattr(ImageNormalisation, "from_mean_std", classmethod(no_ratio))
    with pytest.raises(VerificationFailed, match="drifts past its threshold"):
        convert(small_bundle, "coreml", "fp32", tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "extra, precision, message",
    [
        ({"minimum_target": "iOS99"}, "fp32", "unknown CoreML minimum_target 'iOS99'"),
        ({"minimum_target": "iOS15"}, "w8", "needs compressed-weight ops from iOS16"),
        ({"weight_threshold": -1}, "w8", "weight_threshold must be a non-negative integer"),
        ({"classifier": True}, "fp32", "classifier=true needs a model with labels"),
        ({"tensor_input": "maybe"}, "fp32", "tensor_input must be true or false"),
    ],
)
def test_bad_options_are_refused(small_bundle, tmp_path: Path, extra: dict, precision: str, message: str) -> None:
    with pytest.raises(ConversionError, match=message):
        convert(small_bundle, "coreml", precision, tmp_path, options=ConvertOptions(precision, 64, extra=extra))
    assert not any(tmp_path.iterdir())


def test_image_input_needs_batch_1(small_bundle, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="pass tensor_input=true"):
        convert(small_bundle, "coreml", "fp32", tmp_path, options=ConvertOptions("fp32", 64, batch=2))


@pytest.mark.filterwarnings("ignore")
def test_scan_ops_are_found_by_their_stack_trace(small_bundle) -> None:
    """The op selector behind scan_fp32 recognises ops traced through mvedge/model/scan.py only."""
    from coremltools.converters.mil.mil.scope import ScopeSource

    exported = torch.export.export(small_bundle.model.eval(), (torch.randn(1, 3, 64, 64),)).run_decompositions({})
    program = ct.convert(exported, convert_to="milinternal", minimum_deployment_target=ct.target.iOS17, compute_precision=ct.precision.FLOAT32)
    ops = [op for op in program.functions["main"].operations if op.op_type != "const"]
    scan = [op for op in ops if is_scan_op(op)]
    assert {"exp", "matmul", "pad", "log"} <= {op.op_type for op in scan}
    assert not any(op.op_type in ("conv", "softmax", "layer_norm", "linear") for op in scan)
    assert all(op.scopes.get(ScopeSource.EXIR_STACK_TRACE) for op in scan)


def _quiet():
    from mvedge.progress import Progress

    return Progress(quiet=True)


def test_embedded_model_as_an_image_classifier_with_the_scan_in_fp32(tmp_path: Path) -> None:
    """The default model: RGB image in (mean/std 0.5: ImageType scale and bias only), a Core ML
    classifier out (label, softmax probabilities) that keeps the logits output; fp16 with the
    selective scan's ops kept in fp32. Checked on held-out digits: the float model's accuracy."""
    from PIL import Image

    from mvedge.model.bundle import load_bundle
    from mvedge.model.checkpoints import CheckpointError

    try:
        bundle = load_bundle()
    except CheckpointError as exc:
        pytest.skip(f"embedded model not available: {exc}")
    options = ConvertOptions("fp16", bundle.image_size, extra={"scan_fp32": True})
    artifact = convert(bundle, "coreml", "fp16", tmp_path, options=options)
    assert artifact.verify_note == "verified" and artifact.drift.top1_agreement == 1.0 and artifact.drift.psnr_db >= 35
    assert artifact.drift.accuracy == artifact.drift.reference_accuracy >= 0.9
    meta = artifact.sidecar.conversion
    assert meta["classifier"] and meta["input_kind"] == "image" and not meta["image"]["channel_factor_folded_into_first_conv"]
    assert meta["scan_ops_kept_fp32"] >= 20
    spec = ct.utils.load_spec(str(artifact.path))
    assert spec.description.input[0].type.imageType.width == bundle.image_size
    assert spec.description.predictedFeatureName == "classLabel"
    assert [o.name for o in spec.description.output] == ["classLabel", "classLabel_probs", "logits"]
    interpreter = MILInterpreter(artifact.path)
    assert interpreter.classifier_classes() == bundle.labels
    fp32 = ct.converters.mil.mil.types.fp32
    kept = [op for op in interpreter.function.operations if op.op_type in ("exp", "matmul") and op.outputs[0].dtype == fp32]
    assert len(kept) >= 4  # the scan's exp chain and its C contraction stay fp32
    pixels = np.random.default_rng(2).integers(0, 256, (bundle.image_size, bundle.image_size, 3), dtype=np.uint8)
    out = interpreter.predict({"image": Image.fromarray(pixels)})
    logits = out["logits"].astype(np.float64)[0]
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    assert out["classLabel"] == bundle.labels[int(np.argmax(logits))]
    assert list(out["classLabel_probs"]) == bundle.labels
    assert np.allclose([out["classLabel_probs"][k] for k in bundle.labels], probs, atol=2e-3)
    described = ct.models.MLModel(str(artifact.path), skip_model_load=True)
    assert "mvedge" in described.short_description and described.author.startswith("mvedge")
    assert "Apache-2.0" in described.license
    user = described.user_defined_metadata
    assert json.loads(user["mvedge.preprocessing"])["std"] == [0.5, 0.5, 0.5]
    assert user["mvedge.precision"] == "fp16" and user["mvedge.scan_fp32"] == "true" and json.loads(user["mvedge.labels"]) == bundle.labels


def test_metadata_names_the_weights_license(small_bundle, tmp_path: Path) -> None:
    path = tmp_path / "m.mlpackage"
    CoreMLConverter().convert(small_bundle, ConvertOptions("fp32", 64, extra={"tensor_input": True}), path, _quiet())
    described = ct.models.MLModel(str(path), skip_model_load=True)
    assert "NVIDIA Source Code License-NC" in described.license  # a checkpoint: NVIDIA's terms
    assert described.user_defined_metadata["mvedge.input_kind"] == "tensor"
