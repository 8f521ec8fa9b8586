"""Drift of every target x precision against the stored float reference (tests/fixtures/reference),
on the embedded digits model and on the T-shaped model (MambaVision-T's structure at small width).

The reference files say which device computed them. No GPU has been lent to this project yet, so
they come from the CPU (`"device": "cpu"`); `scripts/make_float_reference.py --device cuda`
replaces them with fp32 GPU figures (TF32 off) where a GPU is at hand, and these tests then check
the CPU model and every artifact against the GPU's numbers.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from mvedge.model.bundle import ModelBundle
from mvedge.verify.metrics import compare
from mvedge.verify.reference import FloatReference, load_reference, t_shaped_bundle
from mvedge.verify.runners import open_runner
from mvedge.verify.thresholds import failures

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "reference"

MATRIX = [
    ("onnx", "fp32", "onnxruntime"),
    ("tflite", "fp32", "ai_edge_litert"),
    ("tflite", "fp16", "ai_edge_litert"),
    ("tflite", "int8-dynamic", "ai_edge_litert"),
    ("tflite", "int8", "ai_edge_litert"),
    ("executorch", "fp32", "executorch"),
    ("executorch", "int8", "executorch"),
    ("coreml", "fp32", "coremltools"),
    ("coreml", "fp16", "coremltools"),
    ("coreml", "w8", "coremltools"),
    ("coreml", "palette6", "coremltools"),
    ("coreml", "palette4", "coremltools"),
]


@pytest.fixture(scope="session")
def t_shaped(tmp_path_factory: pytest.TempPathFactory) -> ModelBundle:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return t_shaped_bundle(tmp_path_factory.mktemp("t-shaped"))


@pytest.fixture(scope="session")
def models(digits: ModelBundle, t_shaped: ModelBundle) -> dict[str, ModelBundle]:
    return {"digits": digits, "t-shaped": t_shaped}


@pytest.fixture(scope="session")
def artifacts(models, converted):
    """(model, target, precision) -> artifact path from the session cache (the digits model's are
    shared with the other drift and app tests)."""
    return lambda model, target, precision: converted(models[model], target, precision)


@pytest.mark.parametrize("name", ["digits", "t-shaped"])
def test_reference_files_describe_their_environment(name: str) -> None:
    env = load_reference(name, REFERENCE_DIR).environment
    assert env["dtype"] == "float32" and env["device"] in ("cpu", "cuda")
    if env["device"] == "cuda":
        assert env["tf32_matmul"] is False and env["tf32_cudnn"] is False


@pytest.mark.parametrize("name", ["digits", "t-shaped"])
def test_cpu_float_model_matches_the_reference(name: str, models) -> None:
    reference = load_reference(name, REFERENCE_DIR)
    assert reference.environment["config"] == models[name].config
    with torch.no_grad():
        outputs = models[name].model(torch.from_numpy(reference.inputs())).numpy()
    scale = float(np.abs(reference.outputs).max())
    np.testing.assert_allclose(outputs, reference.outputs, rtol=0, atol=1e-4 * scale)
    if reference.labels is not None:  # the embedded model is right on these held-out digits
        assert np.mean(outputs.argmax(1) == reference.labels) >= 0.9


def _drift(reference: FloatReference, path: Path):
    runner = open_runner(path)
    return compare(reference.outputs, runner.run_all(reference.inputs()), reference.labels)


# The T-shaped model has 16 blocks: its conversions take 20-160 s each here (ExecuTorch int8 the
# longest), so CI checks three of them and the rest carry the `heavy` mark (`pytest -m heavy`);
# benchmarks/bench_drift.py measures the whole matrix for both models (BENCHMARKS.md).
T_SHAPED_IN_CI = {("tflite", "fp32"), ("tflite", "int8-dynamic"), ("coreml", "fp16")}
CASES = [pytest.param("digits", *case) for case in MATRIX] + [
    pytest.param("t-shaped", *case, marks=() if case[:2] in T_SHAPED_IN_CI else pytest.mark.heavy) for case in MATRIX
]


@pytest.mark.parametrize("name,target,precision,module", CASES)
def test_artifact_drift_is_within_its_threshold(name: str, target: str, precision: str, module: str, artifacts) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")
    reference = load_reference(name, REFERENCE_DIR)
    drift = _drift(reference, artifacts(name, target, precision))
    assert failures(drift, precision) == [], drift
    if reference.labels is not None and precision in ("fp32", "fp16"):
        assert drift.accuracy == drift.reference_accuracy
