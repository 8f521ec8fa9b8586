"""Each target's int8 recipe quantizes what it says and leaves the selective scan in float:
checked on the annotated graph (what the quantizer asked for), on the converted PT2E graph (no
quantize/dequantize inside the scan; tests/converters/test_executorch.py shows that check fails
for a quantizer without the region) and, for LiteRT, on the quantized .tflite's tensor types."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("torchao")

from mvedge.quant import pt2e  # noqa: E402
from mvedge.quant.recipes import INT8_TARGETS, quant_options, recipe_for  # noqa: E402
from mvedge.quant.regions import Region, quant_nodes_in_scan, resolve_exclusions  # noqa: E402
from mvedge.quant.units import quant_units  # noqa: E402
from tests.quant.conftest import TINY, tiny_model  # noqa: E402

FLOAT_MODULES = {"SelectiveScan", "LayerNorm"}


def _images(count: int = 8) -> torch.Tensor:
    return torch.randn(count, 3, TINY["image_size"], TINY["image_size"], generator=torch.Generator().manual_seed(1))


def _ptq(target: str, **kwargs) -> tuple[torch.fx.GraphModule, dict]:
    report: dict = {}
    images = _images()
    converted = pt2e.quantize_ptq(tiny_model(), target, images, images[:1], report=report, **kwargs)
    return converted, report


def test_executorch_recipe_quantizes_convs_and_linears_not_the_scan_norms_or_attention_matmuls() -> None:
    pytest.importorskip("executorch")
    converted, report = _ptq("executorch", observer="minmax")
    ops = report["quantized_ops"]
    assert ops.get("conv2d", 0) >= 9 and ops.get("linear", 0) >= 15 and ops.get("add", 0) > 0
    assert "matmul" not in ops and "softmax" not in ops and "layer_norm" not in ops  # float in this recipe
    assert not FLOAT_MODULES & set(report["quantized_in_modules"])
    assert report["kept_float_in_modules"].get("SelectiveScan", 0) > 10  # the quantizer wanted them: removed
    assert quant_nodes_in_scan(converted) == []
    assert any("quantize_per_tensor" in str(n.target) for n in converted.graph.nodes)


def test_coreml_recipe_also_quantizes_attention_matmuls_and_keeps_the_scan_float() -> None:
    pytest.importorskip("executorch.backends.apple.coreml.quantizer")
    converted, report = _ptq("coreml")
    ops = report["quantized_ops"]
    assert ops.get("matmul", 0) >= 2 and ops.get("conv2d", 0) >= 9 and ops.get("linear", 0) >= 15
    assert "softmax" not in ops and "layer_norm" not in ops
    assert not FLOAT_MODULES & set(report["quantized_in_modules"])
    assert quant_nodes_in_scan(converted) == []


def test_exclusions_keep_a_block_float_and_unknown_names_are_refused() -> None:
    pytest.importorskip("executorch")
    model = tiny_model()
    assert resolve_exclusions(model, ["head", "levels.2.blocks.0"]) == ("norm", "avgpool", "head", "levels.2.blocks.0")
    with pytest.raises(ValueError, match="names no block of this model.*levels.2.blocks.0"):
        resolve_exclusions(model, ["levels.9.blocks.0"])
    _, full = _ptq("executorch", observer="minmax")
    _, excluded = _ptq("executorch", observer="minmax", exclude=("levels.2.blocks.0", "levels.2.blocks.1"))
    assert "MambaVisionMixer" in full["quantized_in_modules"] and "Attention" in full["quantized_in_modules"]
    assert excluded["quantized_in_modules"].get("MambaVisionMixer", 0) < full["quantized_in_modules"]["MambaVisionMixer"]
    assert excluded["quantized_ops"]["linear"] < full["quantized_ops"]["linear"]


def test_recipes_and_options() -> None:
    assert set(INT8_TARGETS) == {"executorch", "coreml", "tflite"}
    with pytest.raises(ValueError, match="target onnx has no int8 recipe"):
        recipe_for("onnx")
    assert recipe_for("executorch").observer(None) == "histogram" and recipe_for("tflite").observer("percentile") == "percentile"
    with pytest.raises(ValueError, match="unknown observer 'kl'"):
        quant_options({"observer": "kl"})
    assert quant_options({"exclude": "a, b,,"}) == (None, ("a", "b"))
    names = [unit.name for unit in quant_units(tiny_model())]
    assert names[0] == "patch_embed" and names[-1] == "head" and "levels.3.blocks.1" in names and "levels.0.downsample" in names


@pytest.mark.parametrize("target", ["tflite", "coreml"])
def test_qat_quantizers_keep_the_scan_float_and_train(target: str) -> None:
    """LiteRT's fake quantization (litert-torch's PT2EQuantizer in QAT mode, through the pattern
    shim in mvedge.quant.pt2e) and Core ML's (CoreMLQuantizer, whose add pattern also caught the
    training graph's integer batch counters); ExecuTorch's QAT graph is checked in test_qat.py."""
    pytest.importorskip({"tflite": "litert_torch", "coreml": "executorch.backends.apple.coreml.quantizer"}[target])
    from mvedge.quant.qat import prepare_qat

    for target in (target,):
        prepared, report = prepare_qat(tiny_model(), target, _images(2))
        assert report["quantized_ops"].get("conv2d", 0) >= 9 and report["quantized_ops"].get("linear", 0) >= 15, target
        assert not FLOAT_MODULES & set(report["quantized_in_modules"]), target
        fake_quantizers = [m for m in prepared.modules() if type(m).__name__.endswith("FakeQuantize")]
        assert len(fake_quantizers) > 30, target
        prepared(_images(2)).square().mean().backward()  # a training step's forward and backward run
        assert dict(prepared.named_parameters())["patch_embed.conv_down.0.weight"].grad is not None


COMPUTE_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL"}


def _op_output_types(quantized: bytes, scope: str) -> dict[str, set[str]]:
    """Output tensor types of the ops of a quantized .tflite, grouped as scan / norm / softmax /
    excluded (tensor names matching `scope`) / compute (convs, linears, matmuls elsewhere) / other;
    QUANTIZE hand-overs are left out."""
    import re

    from ai_edge_litert import schema_py_generated as schema

    from mvedge.quant import litert as tq

    root = schema.Model.GetRootAsModel(quantized, 0)
    graph = root.Subgraphs(0)
    types = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    op_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = [max(root.OperatorCodes(i).BuiltinCode(), root.OperatorCodes(i).DeprecatedBuiltinCode()) for i in range(root.OperatorCodesLength())]
    kinds: dict[str, set[str]] = {k: set() for k in ("scan", "norm", "softmax", "gelu", "matmul", "excluded", "compute", "other")}
    for o in range(graph.OperatorsLength()):
        op = graph.Operators(o)
        op_name = op_names[codes[op.OpcodeIndex()]]
        if op_name == "QUANTIZE":  # the hand-over to the next int8 op, not a part of its own
            continue
        names = [(graph.Tensors(op.Outputs(j)).Name() or b"").decode() for j in range(op.OutputsLength())]
        scope_name = ";".join(names) + ";"  # what ai-edge-quantizer matches its regexes against
        for j, name in enumerate(names):
            if "SelectiveScan" in name:
                kind = "scan"
            elif op_name == "SOFTMAX":
                kind = "softmax"
            elif op_name == "GELU":
                kind = "gelu"
            elif op_name == "BATCH_MATMUL":
                kind = "matmul"
            elif re.search(tq.NORM_SCOPE, scope_name):
                kind = "norm"
            elif re.search(scope, name):
                kind = "excluded"
            elif op_name in COMPUTE_OPS:
                kind = "compute"
            else:
                kind = "other"
            kinds[kind].add(types[graph.Tensors(op.Outputs(j)).Type()])
    return kinds


def test_litert_recipe_keeps_scan_norms_softmax_float32_and_exclusions_match_module_scopes() -> None:
    pytest.importorskip("litert_torch")
    pytest.importorskip("ai_edge_quantizer")
    from mvedge.quant import litert as tq
    from converters.tflite import litert_torch_float32
    from mvedge.progress import Progress

    model = tiny_model()
    float_model = litert_torch_float32(model, _images(1), False, Progress(quiet=True))
    for unit in quant_units(model):  # every block's scope names some tensors, and no scope takes another block's
        scopes = [tq.module_scope(model, path) for path in unit.paths]
        assert sum(tq.count_tensors_matching(float_model, s) for s in scopes) > 0, unit.name
    assert tq.count_tensors_matching(float_model, tq.module_scope(model, "levels.2.blocks.1")) < tq.count_tensors_matching(
        float_model, tq.module_scope(model, "levels.2")
    )
    calibration = [image[None] for image in _images(4).numpy()]
    scope = tq.module_scope(model, "levels.3.blocks.1")
    quantized, meta = tq.quantize(float_model, "int8", calibration, "float32", observer="minmax", float_scopes=(scope,))
    assert meta["observer"] == "minmax" and meta["float_parts"] == ["scan", "norms", "softmax", "gelu", "matmuls"] and not meta["all_integer"]
    kinds = _op_output_types(quantized, scope)
    for part in ("scan", "norm", "softmax", "gelu", "matmul", "excluded"):  # the default float region, and the user's exclusion
        assert kinds[part] and "INT8" not in kinds[part], (part, kinds[part])
    assert kinds["compute"] == {"INT8"}  # every conv and linear outside those is int8
    assert "INT8" in kinds["other"]
    assert np.isfinite(tq._run_flatbuffer(quantized, _images(2).numpy())).all()

    # all_integer: everything int8 (the float tensors left are the float graph input's hand-over
    # and the output's); with scan_fp32 too, only the scan stays float
    integer, meta = tq.quantize(float_model, "int8", calibration, "float32", keep_float=tq.float_parts(all_integer=True))
    assert meta["all_integer"] and meta["float_parts"] == []
    kinds = _op_output_types(integer, scope)
    for part in ("scan", "norm", "softmax", "gelu", "matmul", "excluded", "compute", "other"):
        assert "INT8" in kinds[part], part
    assert kinds["norm"] == kinds["softmax"] == kinds["gelu"] == kinds["matmul"] == {"INT8"}  # (a few scan ops have no int8 kernel: they stay float)
    scan_only, meta = tq.quantize(float_model, "int8", calibration, "float32", keep_float=tq.float_parts(all_integer=True, scan_fp32=True))
    assert meta["float_parts"] == ["scan"] and meta["scan_fp32"]
    kinds = _op_output_types(scan_only, scope)
    assert "INT8" not in kinds["scan"] and kinds["norm"] == kinds["softmax"] == {"INT8"}
    with pytest.raises(ValueError, match="unknown float parts"):
        tq.recipe_for("int8", keep_float=("everything",))
