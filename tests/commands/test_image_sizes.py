"""--image-size HEIGHTxWIDTH and comma lists on convert, verify and info: refusals before any work
(exit 2, one line, nothing written), non-square artifacts per target, and multi-size artifacts
(ExecuTorch methods, LiteRT signatures, ONNX symbolic height and width) checked at every size."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from converters.pipeline import artifact_name, convert
from mvedge.artifact import read_sidecar
from mvedge.cli import main
from mvedge.model.bundle import ModelBundle, load_bundle
from mvedge.progress import Progress
from mvedge.verify.check import verify_artifact
from mvedge.verify.data import verification_set
from mvedge.verify.thresholds import failures
from tests.commands.cli import error_line

NON_SQUARE = "96x128"
SEVERAL = "128,96x128"


def _bundle(size: str) -> ModelBundle:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_bundle(image_size=size)


@pytest.fixture(scope="module")
def non_square() -> ModelBundle:
    """The digits model at 96x128 (height x width)."""
    return _bundle(NON_SQUARE)


@pytest.fixture(scope="module")
def several() -> ModelBundle:
    """The digits model at 128 and 96x128."""
    return _bundle(SEVERAL)


@pytest.mark.parametrize("bad", ["12x", "0", "-5", "96x0", "axb", "128,,96", "16x128"])
def test_a_bad_image_size_is_one_line_exit_2_and_writes_nothing(capsys, tmp_path, bad):
    out = tmp_path / "out"
    line = error_line(capsys, ["convert", "--target", "onnx", "--image-size", bad, "--out", str(out)])
    assert "--image-size" in line and ("HEIGHTxWIDTH" in line or "at least 32" in line)
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("target, precision, extra", [
    ("coreml", "int8", []), ("tflite", "int8-dynamic", []), ("executorch", "int8", []),
])
def test_several_sizes_where_a_target_takes_one_are_refused_before_any_work(capsys, tmp_path, target, precision, extra):
    out = tmp_path / "out"
    line = error_line(capsys, ["convert", "--target", target, "--precision", precision, "--image-size", SEVERAL, "--out", str(out), *extra])
    assert f"{target} {precision} takes one input size per artifact" in line and "128, 96x128" in line
    assert not out.exists() or not any(out.iterdir())


def test_several_sizes_with_arm64_verification_are_refused(capsys, tmp_path):
    line = error_line(capsys, ["convert", "--target", "tflite", "--image-size", SEVERAL, "--verify-arch", "arm64", "--out", str(tmp_path)])
    assert "--verify-arch arm64 checks one input size" in line


def test_artifact_names_say_height_x_width_and_every_size(non_square, several, digits):
    assert artifact_name(digits, "onnx", "fp32", ".onnx") == "mambavision-digits-128-onnx-fp32.onnx"
    assert artifact_name(non_square, "onnx", "fp32", ".onnx") == "mambavision-digits-96x128-onnx-fp32.onnx"
    assert artifact_name(several, "executorch", "fp32", ".pte") == "mambavision-digits-128_96x128-executorch-fp32.pte"


def _drift(path: Path, bundle: ModelBundle, **runner):
    images, labels, _ = verification_set(bundle, limit=4)
    return verify_artifact(path, bundle, images, labels, **runner)


@pytest.mark.parametrize("target, precision", [("onnx", "fp32"), ("executorch", "fp32"), ("tflite", "fp32"),
                                                pytest.param("coreml", "fp16", marks=pytest.mark.heavy)])
def test_a_non_square_artifact_takes_height_by_width_and_matches_the_float_model(converted, non_square, target, precision):
    path = converted(non_square, target, precision)
    sidecar = read_sidecar(path)
    assert NON_SQUARE in path.name
    assert sidecar.input.nchw()[2:] == (96, 128) and sidecar.input.sizes is None
    assert sidecar.preprocessing["input_size"] == [96, 128]
    assert failures(_drift(path, non_square), precision) == []


@pytest.fixture(scope="module")
def several_converted(several, tmp_path_factory):
    """Multi-size artifacts, converted and verified at each size by the pipeline, per target."""
    made = {}

    def get(target: str) -> Path:
        if target not in made:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                made[target] = convert(several, target, "fp32", tmp_path_factory.mktemp(target), progress=Progress(quiet=True)).path
        return made[target]

    return get


@pytest.mark.heavy
@pytest.mark.parametrize("target, methods", [("executorch", ["forward", "forward_96x128"]), ("tflite", ["serving_default", "serving_96x128"])])
def test_a_multi_size_artifact_has_a_method_per_size_and_drift_per_size(several_converted, several, target, methods):
    path = several_converted(target)
    sidecar = read_sidecar(path)
    assert sidecar.input.sizes == [[128, 128], [96, 128]] and sidecar.input.methods == methods
    assert sidecar.input.nchw()[2:] == (128, 128)
    assert set(sidecar.drift["sizes"]) == {"128", "96x128"} and sidecar.drift["size"] in ("128", "96x128")
    # each method really runs at its own size: the 96x128 one refuses a 128x128 input
    assert failures(_drift(path, several.at_size((96, 128)), method=methods[1]), "fp32") == []
    with pytest.raises(Exception):
        _drift(path, several, method=methods[1])


def test_a_multi_size_onnx_model_has_symbolic_height_and_width_and_runs_any_size(several_converted, several):
    import numpy as np
    import onnx
    import onnxruntime
    import torch

    path = several_converted("onnx")
    sidecar = read_sidecar(path)
    assert sidecar.input.sizes == [[128, 128], [96, 128]] and sidecar.input.methods is None
    assert set(sidecar.drift["sizes"]) == {"128", "96x128"}
    assert sidecar.conversion["any_size_from"] == 32
    model = onnx.load(str(path))
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "height", "width"]
    session = onnxruntime.InferenceSession(str(path))
    for size in [(96, 128), (160, 64)]:  # a listed size and one that is not
        x = np.random.default_rng(0).random((2, 3, *size), dtype=np.float32)
        with torch.no_grad():
            expected = several.model(torch.from_numpy(x)).numpy()
        assert np.abs(session.run(None, {"image": x})[0] - expected).max() < 1e-4


def test_a_multi_size_core_ml_model_has_enumerated_shapes_and_runs_each_within_core_ml_limits(small_checkpoint, tmp_path):
    """The small test model at 64 and 48x80: one ML program whose image input enumerates both
    sizes, verified at each by the MIL interpreter (Core ML itself needs macOS), with no tensor
    above rank 5 and dynamic padding only of rank-1 tensors (what Core ML runs)."""
    from mvedge.verify.coreml_interpreter.interpreter import load_program

    bundle = load_bundle(weights=str(small_checkpoint), image_size="64,48x80")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = convert(bundle, "coreml", "fp16", tmp_path, progress=Progress(quiet=True)).path
    sidecar = read_sidecar(path)
    assert sidecar.input.sizes == [[64, 64], [48, 80]] and set(sidecar.drift["sizes"]) == {"64", "48x80"}
    for size in [(64, 64), (48, 80)]:
        assert failures(_drift(path, bundle.at_size(size)), "fp16") == []
    program, spec = load_program(path)
    enumerated = [(s.height, s.width) for s in spec.description.input[0].type.imageType.enumeratedSizes.sizes]
    assert enumerated == [(64, 64), (48, 80)]
    operations = program.functions["main"].operations
    ranks = [len(v.shape) for op in operations for v in op.outputs if getattr(v, "sym_type", None) is not None and hasattr(v.sym_type, "get_shape")]
    assert ranks and max(ranks) <= 5
    dynamic_pads = [op for op in operations if op.op_type == "pad" and op.inputs["pad"].val is None]
    assert dynamic_pads and all(len(op.inputs["x"].shape) == 1 for op in dynamic_pads)


@pytest.mark.heavy
def test_verify_and_info_report_every_size_of_a_multi_size_artifact(several_converted, capsys, tmp_path):
    path = several_converted("executorch")
    report = tmp_path / "verify.json"
    assert main(["verify", str(path), "--limit", "4", "--json", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "size 96x128 (forward_96x128)" in printed and "worst size" in printed
    drift = json.loads(report.read_text())["drift"]
    assert set(drift["sizes"]) == {"128", "96x128"}
    assert main(["info", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "size 96x128" in printed and "forward_96x128: PSNR" in printed and "worst size" in printed
