"""benchmarks/arm64_tolerances.py: the apps' tolerances derived from the ARM64 measurements."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

import arm64_tolerances as D  # noqa: E402

from mvedge import strict_json  # noqa: E402
from mvedge.apps import tolerances as T  # noqa: E402


def _row(target: str, precision: str, logits: float, score: float, status: str = "run") -> dict:
    return {"model": "m", "images": "4", "runtime": "r", "target": target, "precision": precision, "status": status,
            "arm_vs_x86_logits_rel": logits, "arm_vs_x86_score_abs": score, "arm_vs_float_logits_rel": 1.0, "arm_vs_float_score_abs": 1.0}


NO_RESPONSE = {"rows": []}


def _entry(entries: list[dict], target: str, precision: str) -> dict:
    return next(e for e in entries if (e["target"], e["precision"]) == (target, precision))


def test_round_up_keeps_two_digits_and_never_goes_below() -> None:
    assert D.round_up(0.04848485) == 0.049 and D.round_up(6.117e-07) == 6.2e-07 and D.round_up(0.097) == 0.097
    for value in (1e-9, 3.3333e-5, 0.0607733, 1.0, 12.34):
        assert value <= D.round_up(value) <= value * 1.1


def test_a_measured_pair_is_the_factor_times_its_largest_row_over_recipes_and_models() -> None:
    rows = [_row("tflite", "int8", 0.01, 0.002), _row("tflite", "int8 --all-integer", 0.048, 0.0304), _row("tflite", "fp32", 6e-7, 3e-7),
            _row("executorch", "fp32", 0, 0, status="not run: no runtime")]
    entries = D.derive({"rows": rows}, NO_RESPONSE, factor=2)
    int8 = _entry(entries, "tflite", "int8")
    assert (int8["logits_abs"], int8["score_abs"], int8["basis"]) == (0.096, 0.061, "measured")
    assert int8["measured"] == {"logits_abs": 0.048, "score_abs": 0.0304} and len(int8["rows"]) == 2
    assert _entry(entries, "tflite", "fp32")["logits_abs"] == 1.2e-6
    # not run on ARM64: the floor, raised to the measured pair with the same kernels
    executorch_int8 = _entry(entries, "executorch", "int8")
    assert executorch_int8["logits_abs"] == 0.096 and executorch_int8["score_abs"] == 0.061 and executorch_int8["basis"].startswith("floor")
    executorch_fp32 = _entry(entries, "executorch", "fp32")
    assert (executorch_fp32["logits_abs"], executorch_fp32["score_abs"]) == (1e-3, 1e-3) and "measured" not in executorch_fp32
    coreml = _entry(entries, "coreml", "fp16")
    assert coreml["basis"] == "floor" and "Core ML" in coreml["not_measured"]


def test_executorch_run_on_arm64_is_measured_not_floored() -> None:
    entries = D.derive({"rows": [_row("executorch", "int8", 0.01, 0.002), _row("tflite", "int8", 0.048, 0.0304)]}, NO_RESPONSE, factor=2)
    int8 = _entry(entries, "executorch", "int8")  # below the 5e-2 floor it had while not run, and not raised to LiteRT's
    assert (int8["logits_abs"], int8["score_abs"], int8["basis"]) == (0.02, 0.004, "measured") and "floor" not in int8


def test_a_floor_never_hides_a_larger_measurement() -> None:
    entries = D.derive({"rows": [_row("tflite", "fp16", 0.05, 1e-3)]}, NO_RESPONSE, factor=2)
    fp16 = _entry(entries, "tflite", "fp16")
    assert fp16["logits_abs"] == 0.1 and fp16["score_abs"] == D.FLOORS[("tflite", "fp16")]["score_abs"]
    assert fp16["basis"] == "measured, with a floor"


def test_the_input_response_is_added_to_the_kernel_difference() -> None:
    response = {"rows": [{"logits_abs": 1.45e-6, "score_abs": 1e-6}, {"logits_abs": 3e-8, "score_abs": 3e-9}]}
    fp32 = _entry(D.derive({"rows": [_row("tflite", "fp32", 6.1e-7, 3.1e-7)]}, response, factor=2), "tflite", "fp32")
    assert (fp32["logits_abs"], fp32["score_abs"]) == (4.2e-6, 2.7e-6)  # 2 x 2.06e-6 and 2 x 1.31e-6, rounded up
    assert fp32["input_response"] == {"logits_abs": 1.45e-6, "score_abs": 1e-6}


def test_the_input_response_measure_moves_every_value_by_input_abs(monkeypatch) -> None:
    import numpy as np

    seen = []

    def reference(bundle, images):
        seen.append(images.copy())
        return images.reshape(len(images), -1)[:, :3].astype(np.float32) * 1000

    monkeypatch.setattr("mvedge.verify.check.float_reference", reference)
    monkeypatch.setattr("mvedge.model.bundle.load_bundle", lambda: "digits")
    monkeypatch.setattr("mvedge.verify.reference.t_shaped_bundle", lambda tmp: "t")
    monkeypatch.setattr("mvedge.verify.data.verification_set", lambda bundle, limit: (np.zeros((2, 1, 2, 2), np.float32), None, f"{limit} images"))
    rows = D.measure_input_response(limit=5, photo_limit=3, draws=2)["rows"]
    assert [(r["model"], r["images"]) for r in rows] == [("digits", "5 images"), ("t-shaped", "3 images")]
    assert len(seen) == 6 and all(np.allclose(np.abs(moved), D.INPUT_ABS) for moved in seen[1:3] + seen[4:])
    assert rows[0]["logits_abs"] == pytest.approx(1e-3)  # outputs moved by 1000 x 1e-6 from 0, over max(1, 0)


def test_the_packaged_file_is_what_the_script_derives_from_the_recorded_results() -> None:
    results = strict_json.loads(D.RESULTS.read_text())
    response = strict_json.loads(D.INPUT_RESULTS.read_text())
    document = T.table()
    assert D.TOLERANCES == T.PATH
    assert document["tolerances"] == D.derive(results, response, document["safety_factor"])
    assert document["safety_factor"] == D.SAFETY_FACTOR and document["command"] == D.COMMAND
    assert {k: v for k, v in document.items() if k != "date"} == {k: v for k, v in D.document(results, response, "").items() if k != "date"}
