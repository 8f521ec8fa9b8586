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
