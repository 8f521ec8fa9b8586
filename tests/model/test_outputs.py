"""--outputs / --stages: the choice and its refusals, the export wrapper, the output specs, the
sidecar's outputs list, per-output drift with the worst output deciding, and artifact names."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from converters.pipeline import artifact_name
from mvedge.artifact import OutputSpec, Sidecar
from mvedge.errors import BadInput
from mvedge.model.configs import test_config
from mvedge.model.outputs import (
    OutputChoice,
    OutputsModule,
    choice_from_names,
    output_specs,
    parse_outputs,
)
from mvedge.verify.metrics import compare_maps, worst_of
from mvedge.verify.reference import seeded_model
from mvedge.verify.thresholds import failures
from tests.sidecars import make_sidecar


def test_the_choice_is_parsed_with_stages_numbered_like_out_indices() -> None:
    assert parse_outputs(None, None) == OutputChoice("logits")
    assert parse_outputs("features", None).names == ["features"]
    stages = parse_outputs("stages", "3, 1,2")
    assert stages == OutputChoice("stages", (1, 2, 3)) and stages.names == ["stage1", "stage2", "stage3"] and stages.tag == "stages123"
    assert parse_outputs("stages", None).stages == (0, 1, 2, 3)
    assert parse_outputs(None, None, backbone=True, default_stages=(1, 3)) == OutputChoice("stages", (1, 3))


@pytest.mark.parametrize(
    ("kind", "stages", "backbone", "message"),
    [
        ("logits", "1", False, "needs --outputs stages"),
        (None, "1,2", False, "needs --outputs stages"),
        ("stages", "1,4", False, "numbered 0..3"),
        ("stages", "-1", False, "numbered 0..3"),
        ("stages", "a", False, "stage numbers 0..3"),
        ("stages", ",", False, "numbered 0..3"),
        ("pixels", None, False, "not one of"),
        ("features", None, True, "backbone has no pooled features"),
        ("stages", "0,2", True, "outputs stages 1,3 only"),
    ],
)
def test_bad_choices_are_refused(kind, stages, backbone, message) -> None:
    with pytest.raises(BadInput, match=message):
        parse_outputs(kind, stages, backbone=backbone, default_stages=(1, 3) if backbone else (0, 1, 2, 3))


def test_the_wrapper_returns_the_chosen_outputs_and_the_specs_match_their_shapes() -> None:
    model = seeded_model(test_config("tiny"))
    x = torch.randn(2, 3, 72, 40)  # non-square, not a multiple of the strides
    with torch.no_grad():
        stages = OutputsModule(model, OutputChoice("stages", (0, 2, 3)))(x)
        named = OutputsModule(model, OutputChoice("stages", (0, 2, 3)), as_dict=True)(x)
        (features,) = OutputsModule(model, OutputChoice("features"))(x)
        expected = model.forward_intermediates(x, [0, 2, 3])
        assert torch.equal(features, model.forward_features(x))
    assert all(torch.equal(a, b) for a, b in zip(stages, expected)) and list(named) == ["stage0", "stage2", "stage3"]
    specs = output_specs(OutputChoice("stages", (0, 2, 3)), model.config, 2, 72, 40)
    assert [s["shape"] for s in specs] == [list(t.shape) for t in stages]
    assert [s["stride"] for s in specs] == [4, 16, 32] and {s["layout"] for s in specs} == {"NCHW"}
    (vector,) = output_specs(OutputChoice("features"), model.config, 2, 72, 40)
    assert vector["shape"] == list(features.shape) and vector["layout"] == "NC" and vector["stride"] is None


def test_the_sidecar_lists_every_output_and_older_sidecars_read_as_one() -> None:
    old = Sidecar.from_dict(make_sidecar().to_dict())
    assert old.outputs is None and old.all_outputs() == [old.output] and "outputs" not in old.to_dict()
    specs = [OutputSpec([1, 32, 16, 16], name="stage1", dtype="float32", stride=8, channels=32, layout="NCHW"),
             OutputSpec([1, 64, 8, 8], name="stage2", dtype="float32", stride=16, channels=64, layout="NCHW")]
    new = dataclasses.replace(old, output=specs[0], outputs=specs)
    back = Sidecar.from_dict(new.to_dict())
    assert back.all_outputs() == specs and back.output == specs[0]
    assert choice_from_names([o.name for o in back.all_outputs()], True) == OutputChoice("stages", (1, 2))
    assert choice_from_names(["logits"], False) == OutputChoice() and choice_from_names(["features"], False) == OutputChoice()
    bad = new.to_dict()
    bad["outputs"][1]["stride"] = "8"
    with pytest.raises(BadInput, match=r"outputs\[1\]\.stride"):
        Sidecar.from_dict(bad)


def test_the_worst_output_decides_and_each_failure_names_its_output() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(4, 8, 5, 5))
    good = compare_maps(ref, ref + 1e-7)
    bad = compare_maps(ref, ref + rng.normal(scale=0.3, size=ref.shape))
    assert good.top1_agreement is None and good.accuracy is None
    drift = worst_of({"stage1": good, "stage2": bad})
    assert drift.output == "stage2" and drift.psnr_db == bad.psnr_db and set(drift.outputs) == {"stage1", "stage2"}
    problems = failures(drift, "fp32")
    assert problems and all(p.startswith("stage2: ") for p in problems)
    assert failures(worst_of({"stage1": good, "stage2": good}), "fp32") == []
    assert "outputs" not in good.to_dict() and drift.to_dict()["outputs"]["stage2"]["psnr_db"] == bad.psnr_db


def test_artifact_names_carry_the_outputs(digits) -> None:
    logits = artifact_name(digits, "onnx", "fp32", ".onnx")
    features = artifact_name(dataclasses.replace(digits, outputs=OutputChoice("features")), "onnx", "fp32", ".onnx")
    stages = artifact_name(dataclasses.replace(digits, outputs=OutputChoice("stages", (1, 2, 3))), "onnx", "fp32", ".onnx")
    assert logits == "mambavision-digits-128-onnx-fp32.onnx"
    assert features == "mambavision-digits-128-onnx-fp32-features.onnx"
    assert stages == "mambavision-digits-128-onnx-fp32-stages123.onnx"
