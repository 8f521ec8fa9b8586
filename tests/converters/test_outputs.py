"""Features and stage maps (--outputs) on every target: one stages artifact per target (features on
onnx), each output named in the artifact and its sidecar, its drift measured against
PyTorch output by output."""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from mvedge.artifact import read_sidecar
from mvedge.cli import main
from mvedge.model.bundle import ModelBundle, load_bundle
from mvedge.model.outputs import OutputChoice
from mvedge.verify.check import verify_artifact
from mvedge.verify.runners import open_runner
from mvedge.verify.thresholds import failures, threshold_for

STAGES = OutputChoice("stages", (1, 2, 3))
PRECISION = {"onnx": "fp32", "tflite": "fp32", "executorch": "fp32", "coreml": "fp32"}


@pytest.fixture(scope="module")
def tiny_stages(tiny_checkpoint: Path) -> ModelBundle:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dataclasses.replace(load_bundle(str(tiny_checkpoint)), outputs=STAGES)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(3, 3, 64, 64)).astype(np.float32)


@pytest.mark.parametrize("target", ["onnx", "tflite", "executorch", "coreml"])
def test_a_stages_artifact_names_each_output_and_each_drifts_within_its_threshold(converted, tiny_stages, images, target) -> None:
    precision = PRECISION[target]
    artifact = converted(tiny_stages, target, precision, **({"tensor_input": True} if target == "coreml" else {}))
    assert artifact.name.endswith(f"-{precision}-stages123{artifact.suffix}") or "-stages123-" in artifact.name
    sidecar = read_sidecar(artifact)
    outputs = sidecar.all_outputs()
    assert [o.name for o in outputs] == ["stage1", "stage2", "stage3"] and sidecar.output == outputs[0]
    assert [o.shape for o in outputs] == [[1, 16, 8, 8], [1, 32, 4, 4], [1, 64, 2, 2]]
    assert [o.stride for o in outputs] == [8, 16, 32] and [o.channels for o in outputs] == [16, 32, 64]
    assert {o.layout for o in outputs} == {"NCHW"} and {o.dtype for o in outputs} == {"float32"}
    assert sidecar.labels is None and "raw level outputs" in sidecar.conversion["stage_maps"]
    runner = open_runner(artifact)
    maps = runner.run_all_outputs(images[:1])
    assert [m.shape for m in maps] == [tuple(o.shape) for o in outputs]  # by name, in the sidecar's order
    drift = verify_artifact(artifact, tiny_stages, images, None)
    assert set(drift.outputs) == {"stage1", "stage2", "stage3"} and drift.top1_agreement is None
    assert drift.psnr_db == min(d["psnr_db"] for d in drift.outputs.values())
    assert all(d["psnr_db"] >= threshold_for(precision).min_psnr_db for d in drift.outputs.values())
    assert failures(drift, precision) == []


@pytest.mark.parametrize("target", ["onnx"])
def test_a_features_artifact_outputs_the_pooled_vector(converted, tiny_stages, images, target) -> None:
    bundle = dataclasses.replace(tiny_stages, outputs=OutputChoice("features"))
    artifact = converted(bundle, target, "fp32")
    assert "-features" in artifact.name
    sidecar = read_sidecar(artifact)
    assert [(o.name, o.shape, o.layout, o.stride) for o in sidecar.all_outputs()] == [("features", [1, 64], "NC", None)]
    drift = verify_artifact(artifact, bundle, images, None)
    assert drift.psnr_db >= 60 and drift.top1_agreement is None and failures(drift, "fp32") == []


def test_profile_runs_a_multi_output_artifact(converted, tiny_stages, capsys) -> None:
    artifact = converted(tiny_stages, "tflite", "fp32")
    assert main(["profile", str(artifact), "--runs", "2", "--warmup", "0", "--no-breakdown", "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["samples_ms"]) == 2 and data["artifact"] == artifact.name


@pytest.mark.parametrize("target", ["tflite", "executorch", "coreml"])
def test_a_stages_artifact_converts_at_int8_with_a_block_kept_float(converted, tiny_stages, images, target) -> None:
    """Quantized precisions take every output choice; --exclude names blocks as in the classifier
    even though the exported module wraps it."""
    options = {"exclude": "levels.0.blocks.0", **({"tensor_input": True} if target == "coreml" else {})}
    artifact = converted(tiny_stages, target, "int8", **options)
    sidecar = read_sidecar(artifact)
    assert [o.name for o in sidecar.all_outputs()] == ["stage1", "stage2", "stage3"]
    quantization = sidecar.conversion["quantization"] if target == "coreml" else sidecar.conversion
    assert quantization["excluded"] == ["levels.0.blocks.0"]
    if target == "tflite":  # the excluded block's weights stay float32, the next level's same-named block's are int8
        assert _weight_types(artifact, "MambaVisionLayer_0/mvedge.model.mambavision.ConvBlock_0/") == {"FLOAT32"}
        assert "INT8" in _weight_types(artifact, "MambaVisionLayer_1/mvedge.model.mambavision.ConvBlock_0/")
    else:
        assert quantization["quantized"]["kept_float_in_modules"].get("ConvBlock", 0) > 0
    drift = verify_artifact(artifact, tiny_stages, images, None)
    assert set(drift.outputs) == {"stage1", "stage2", "stage3"}
    assert failures(drift, "int8") == []


def _weight_types(artifact: Path, scope: str) -> set[str]:
    """The element types of the conv weights (constant tensors) named inside `scope` in a .tflite."""
    from ai_edge_litert import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    model = schema.Model.GetRootAsModel(artifact.read_bytes(), 0)
    graph = model.Subgraphs(0)
    types = set()
    for i in range(graph.TensorsLength()):
        tensor = graph.Tensors(i)
        if scope in tensor.Name().decode() and tensor.ShapeLength() == 4 and model.Buffers(tensor.Buffer()).DataLength():
            types.add(names[tensor.Type()])
    return types
