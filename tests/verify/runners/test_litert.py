"""LiteRT runner: layouts, fixed batch, int8 I/O, XNNPACK on/off, threads, missing runtime."""

from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("ai_edge_litert.interpreter")
litert_torch = pytest.importorskip("litert_torch")

from mvedge.verify.runners import open_runner  # noqa: E402
from mvedge.artifact import sidecar_path  # noqa: E402
from mvedge.verify.runners.base import RuntimeUnavailable  # noqa: E402
from tests.sidecars import make_sidecar, write_test_sidecar  # noqa: E402
from mvedge.verify.runners.litert import LiteRTRunner  # noqa: E402


class Tiny(torch.nn.Module):
    """Conv + pooling + linear: small enough to convert in seconds, layout-sensitive enough to fail."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.head = torch.nn.Linear(8 * 4 * 4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(x)).flatten(1))


def _inputs(n: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((n, 3, 8, 8)).astype(np.float32)


def _reference(x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return Tiny().eval()(torch.from_numpy(x)).numpy()


def _convert(path: Path, batch: int = 1, nhwc: bool = False) -> Path:
    model = Tiny().eval()
    example = torch.from_numpy(_inputs(batch))
    if nhwc:
        model, example = litert_torch.to_channel_last_io(model, args=[0]).eval(), example.permute(0, 2, 3, 1)
    litert_torch.convert(model, (example,)).export(str(path))
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("litert")
    return {
        "nchw": _convert(root / "nchw.tflite"),
        "nhwc": _convert(root / "nhwc.tflite", nhwc=True),
        "batch2": _convert(root / "batch2.tflite", batch=2),
    }


def test_nchw_xnnpack_and_builtin(models) -> None:
    x = _inputs(3)
    with_xnnpack = open_runner(models["nchw"], threads=2)
    assert isinstance(with_xnnpack, LiteRTRunner) and with_xnnpack.layout == "NCHW"
    assert with_xnnpack.delegate == "XNNPACK" and with_xnnpack.describe()["threads"] == 2
    builtin = LiteRTRunner(models["nchw"], xnnpack=False)
    assert builtin.delegate.startswith("none") and builtin.delegate_partitions == 0
    ref = _reference(x)
    assert np.abs(with_xnnpack.run(x) - ref).max() < 1e-5
    assert np.abs(builtin.run(x) - ref).max() < 1e-5


def test_nhwc_from_sidecar_and_from_shape(models) -> None:
    x = _inputs(2)
    runner = LiteRTRunner(models["nhwc"])  # no sidecar: the (1, 8, 8, 3) shape says NHWC
    assert runner.layout == "NHWC"
    assert np.abs(runner.run(x) - _reference(x)).max() < 1e-5
    write_test_sidecar(models["nhwc"], target="tflite", shape=(1, 8, 8, 3), layout="NHWC")
    try:
        assert LiteRTRunner(models["nhwc"]).layout == "NHWC"
    finally:
        sidecar_path(models["nhwc"]).unlink()
    # a sidecar in hand (the convert pipeline's, before it is written) wins over the shape's guess
    assert LiteRTRunner(models["nhwc"], sidecar=make_sidecar(target="tflite", shape=(1, 3, 8, 8))).layout == "NCHW"


def test_fixed_batch_is_topped_up(models) -> None:
    runner = LiteRTRunner(models["batch2"])
    assert runner.batch == 2
    x = _inputs(3)  # one full group and one short group
    out = runner.run_all(x)
    assert out.shape == (3, 5) and np.abs(out - _reference(x)).max() < 1e-5


def test_int8_io_is_quantized_and_dequantized(models, tmp_path: Path) -> None:
    """Static int8 with int8 input/output: the runner quantizes with the model's own parameters, so
    it matches the same quantized model with float I/O (which quantizes inside) to one output step."""
    quantizer = pytest.importorskip("ai_edge_quantizer.quantizer")
    from ai_edge_quantizer import qtyping, recipe, recipe_manager
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    data = {"serving_default": [{"args_0": _inputs(16)[i : i + 1]} for i in range(16)]}
    paths = {}
    for io in ("int8", "float32"):
        manager = recipe_manager.RecipeManager()
        manager.load_quantization_recipe(recipe.static_wi8_ai8())
        if io == "float32":
            for op in (qtyping.TFLOperationName.INPUT, qtyping.TFLOperationName.OUTPUT):
                manager.add_quantization_config(".*", op, None, AlgorithmName.NO_QUANTIZE)
        engine = quantizer.Quantizer(str(models["nchw"]), manager.get_quantization_recipe())
        paths[io] = tmp_path / f"int8-{io}.tflite"
        engine.quantize(engine.calibrate(data)).export_model(str(paths[io]), overwrite=True)
    integer_io, float_io = LiteRTRunner(paths["int8"]), LiteRTRunner(paths["float32"])
    assert integer_io.describe()["input_dtype"] == "int8" and integer_io.describe()["output_dtype"] == "int8"
    assert float_io.describe()["input_dtype"] == "float32"
    x = _inputs(8)
    out, same_model = integer_io.run(x), float_io.run(x)
    step = integer_io.output["quantization"][0]
    assert np.abs(out - same_model).max() <= 1.01 * step
    ref = _reference(x)
    assert np.sum(out * ref) / (np.linalg.norm(out) * np.linalg.norm(ref)) > 0.9  # and it is the model


def test_wrong_input_rank_is_refused(models) -> None:
    with pytest.raises(ValueError, match="batch of images"):
        LiteRTRunner(models["nchw"]).run(np.zeros((3, 8, 8), np.float32))


def test_missing_runtime_raises_runtime_unavailable(models, monkeypatch) -> None:
    real_import = builtins.__import__

    def no_litert(name, *args, **kwargs):
        if name.startswith(("ai_edge_litert", "tflite_runtime")):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_litert)
    with pytest.raises(RuntimeUnavailable, match="mvedge\\[tflite\\]"):
        LiteRTRunner(models["nchw"])


def test_falls_back_to_tflite_runtime_where_only_it_is_installed(models, monkeypatch) -> None:
    """Edge boards often have only the older tflite-runtime: its interpreter is used instead."""
    import sys
    import types

    from ai_edge_litert import interpreter as litert_interpreter

    fake = types.ModuleType("tflite_runtime.interpreter")
    fake.Interpreter, fake.OpResolverType = litert_interpreter.Interpreter, litert_interpreter.OpResolverType
    monkeypatch.setitem(sys.modules, "tflite_runtime", types.ModuleType("tflite_runtime"))
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", fake)
    real_import = builtins.__import__

    def no_litert(name, *args, **kwargs):
        if name.startswith("ai_edge_litert"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_litert)
    runner = LiteRTRunner(models["nchw"])
    assert runner.runtime == "tflite-runtime"
    x = _inputs(2)
    np.testing.assert_allclose(runner.run_all(x), _reference(x), rtol=1e-4, atol=1e-5)
