"""Whole saved .mlpackages in the interpreter: fp32 against PyTorch, fp16 against PyTorch's own fp16
run, compressed weights against coremltools' decompression of the same artifact."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

ct = pytest.importorskip("coremltools")

from converters.base import ConvertOptions  # noqa: E402
from converters.coreml import CoreMLConverter  # noqa: E402
from mvedge.model.bundle import ModelBundle  # noqa: E402
from mvedge.model.preprocessing import Preprocessing  # noqa: E402
from mvedge.progress import Progress  # noqa: E402
from mvedge.verify.coreml_interpreter import MILInterpreter  # noqa: E402
from mvedge.model.configs import test_config  # noqa: E402
from mvedge.verify.reference import seeded_model  # noqa: E402



@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    """The small model with BN statistics and weights scaled up so logits are O(1) (random
    trunc-normal(0.02) weights give logits ~0.05, where relative errors say little)."""
    model = seeded_model(test_config("small"))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.mul_(4.0)
    return ModelBundle(model, "small", dict(model.config), Preprocessing(input_size=64), None, "random")


@pytest.fixture(scope="module")
def inputs() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((3, 1, 3, 64, 64)).astype(np.float32)


def _convert(bundle: ModelBundle, precision: str, folder: Path, **extra) -> Path:
    path = folder / f"{precision}.mlpackage"
    CoreMLConverter().convert(bundle, ConvertOptions(precision, 64, extra={"tensor_input": True, **extra}), path, Progress(quiet=True))
    return path


def _run(path_or_program, inputs: np.ndarray) -> np.ndarray:
    interpreter = MILInterpreter(path_or_program)
    return np.concatenate([interpreter.predict({"image": x})["logits"].astype(np.float64) for x in inputs])


def _reference(model: torch.nn.Module, inputs: np.ndarray, half: bool = False) -> np.ndarray:
    model = copy.deepcopy(model)
    if half:
        model = model.half()
    with torch.no_grad():
        outs = [model(torch.from_numpy(x).half() if half else torch.from_numpy(x)).double().numpy() for x in inputs]
    return np.concatenate(outs)


def test_fp32_program_matches_pytorch(bundle, inputs, tmp_path_factory) -> None:
    out = _run(_convert(bundle, "fp32", tmp_path_factory.mktemp("fp32")), inputs)
    ref = _reference(bundle.model, inputs)
    assert np.abs(ref).max() > 0.5  # logits large enough for a relative check
    assert np.abs(out - ref).max() <= 2e-6 * np.abs(ref).max()


def test_fp16_program_matches_pytorch_fp16(bundle, inputs, tmp_path_factory) -> None:
    """Both runs round every op to fp16, in different places (Core ML folds BN into conv, PyTorch
    does not): they agree to fp16 noise, and both sit equally far from fp32."""
    path = _convert(bundle, "fp16", tmp_path_factory.mktemp("fp16"))
    interpreter = MILInterpreter(path)
    assert interpreter.predict({"image": inputs[0]})["logits"].dtype == np.float16
    out = _run(path, inputs)
    ref32 = _reference(bundle.model, inputs)
    ref16 = _reference(bundle.model, inputs, half=True)
    scale = np.abs(ref32).max()
    torch_noise = np.abs(ref16 - ref32).max() / scale
    ours_vs_torch16 = np.abs(out - ref16).max() / scale
    ours_vs_fp32 = np.abs(out - ref32).max() / scale
    assert 1e-5 < torch_noise < 1e-2  # fp16 rounding is visible in PyTorch's own fp16 run
    assert 1e-5 < ours_vs_fp32 < 3 * torch_noise  # ... and in the interpreter's, at the same level
    assert ours_vs_torch16 < 3 * torch_noise


@pytest.mark.parametrize("precision, target, constexpr", [("w8", "iOS17", "constexpr_affine_dequantize"), ("palette4", "iOS17", "constexpr_lut_to_dense"), ("palette6", "iOS18", "constexpr_lut_to_dense")])
def test_compressed_weights_expand_like_coremltools(bundle, inputs, tmp_path_factory, precision, target, constexpr) -> None:
    """The interpreter's expansion of compressed weights equals coremltools' decompress_weights."""
    import coremltools.optimize.coreml as cto

    folder = tmp_path_factory.mktemp(precision)
    path = _convert(bundle, precision, folder, minimum_target=target)
    compressed = MILInterpreter(path)
    assert compressed.op_types().get(constexpr, 0) >= 20
    dense_model = cto.decompress_weights(ct.models.MLModel(str(path), skip_model_load=True))
    dense_path = folder / "dense.mlpackage"
    dense_model.save(str(dense_path))
    assert not any(t.startswith("constexpr") for t in MILInterpreter(dense_path).op_types())
    np.testing.assert_array_equal(_run(path, inputs[:1]), _run(dense_path, inputs[:1]))


def test_intermediates_can_be_kept(bundle, inputs, tmp_path_factory) -> None:
    path = _convert(bundle, "fp32", tmp_path_factory.mktemp("keep"))
    values = MILInterpreter(path).predict({"image": inputs[0]}, keep_intermediates=True)
    assert "logits" in values and len(values) > 100
