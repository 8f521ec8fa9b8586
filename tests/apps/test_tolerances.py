"""The contract's tolerances: read from the packaged tolerances.json, never below a difference the
ARM64 benchmark measured, and floors only where the emulation cannot stand for the device."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvedge import strict_json
from mvedge.apps import contract as C
from mvedge.apps import tolerances as T

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "arm64.json"
INPUT_RESPONSE = RESULTS.with_name("input_response.json")


def _run_rows() -> list[dict]:
    return [r for r in strict_json.loads(RESULTS.read_text())["rows"] if r["status"] == "run"]


@pytest.mark.parametrize("row", _run_rows(), ids=lambda r: f"{r['model']}-{r['target']}-{r['precision']}")
def test_no_tolerance_is_below_a_measured_difference(row: dict) -> None:
    tol = C.tolerance_for(row["precision"].split()[0], row["target"])
    factor = T.table()["safety_factor"]
    assert row["arm_vs_x86_logits_rel"] * factor <= tol["logits_abs"], (row["arm_vs_x86_logits_rel"], tol)
    assert row["arm_vs_x86_score_abs"] * factor <= tol["score_abs"], (row["arm_vs_x86_score_abs"], tol)
    # an app's input may move by input_abs: its measured effect comes on top of the kernels'
    moved = strict_json.loads(INPUT_RESPONSE.read_text())["rows"]
    for key, column in (("logits_abs", "arm_vs_x86_logits_rel"), ("score_abs", "arm_vs_x86_score_abs")):
        assert factor * (row[column] + max(r[key] for r in moved)) <= tol[key], (key, tol)


def test_int8_all_integer_on_arm64_is_covered_with_the_margin() -> None:
    (row,) = [r for r in _run_rows() if (r["model"], r["target"], r["precision"]) == ("digits", "tflite", "int8 --all-integer")]
    tol = C.tolerance_for("int8", "tflite")
    assert row["arm_vs_x86_logits_rel"] > 0.04 and row["arm_vs_x86_score_abs"] > 0.03  # what was at the old bounds' edge
    assert tol["logits_abs"] >= 2 * row["arm_vs_x86_logits_rel"] and tol["score_abs"] >= 2 * row["arm_vs_x86_score_abs"]


def test_measured_pairs_come_from_the_measurements_and_floors_say_why() -> None:
    document = T.table()
    assert document["schema"] == T.SCHEMA and document["safety_factor"] >= 1 and document["safety_factor_why"]
    measured = {(r["target"], r["precision"].split()[0]) for r in _run_rows()}
    for entry in document["tolerances"]:
        pair = (entry["target"], entry["precision"])
        if pair in measured:
            assert entry["basis"].startswith("measured") and entry["rows"], entry
            for key in ("logits_abs", "score_abs"):
                assert entry[key] >= document["safety_factor"] * entry["measured"][key]
                assert entry["measured"][key] == max(r[key] for r in entry["rows"])
        else:
            assert entry["basis"].startswith("floor") and entry["not_measured"], entry
        if "floor" in entry:
            assert entry["not_measured"] and all(entry[k] >= entry["floor"][k] for k in entry["floor"])
    # fp16 arithmetic on a phone is not emulated: LiteRT fp16 keeps a floor above its measurement
    assert "floor" in next(e for e in document["tolerances"] if (e["target"], e["precision"]) == ("tflite", "fp16"))


def test_lookup_by_target_and_precision() -> None:
    assert C.tolerance_for("int8", "tflite")["score_abs"] > C.tolerance_for("fp16", "tflite")["score_abs"] > C.tolerance_for("fp32", "tflite")["score_abs"]
    assert C.tolerance_for("fp32", "tflite") != C.tolerance_for("fp32", "coreml")  # measured vs Core ML's floor
    assert C.tolerance_for(None, "onnx") == C.tolerance_for("fp32", "onnx")
    widest = {k: max(e[k] for e in T.table()["tolerances"]) for k in T.KEYS}
    assert C.tolerance_for("palette3", "coreml") == widest  # a precision with no entry: the widest bound
    int8 = [e for e in T.table()["tolerances"] if e["precision"] == "int8"]
    assert C.tolerance_for("int8", "tvm")["logits_abs"] == max(e["logits_abs"] for e in int8)
    assert T.basis_for("fp32", "tflite").startswith(f"measured: {T.table()['safety_factor']:g} x (the largest difference of the ARM64 run")
    assert T.basis_for("fp16", "coreml").startswith("a floor, not measured: Core ML")
    assert T.basis_for("fp16", "tflite").startswith("a floor, at least the measured 2 x") and "fp16 arithmetic" in T.basis_for("fp16", "tflite")


def test_readme_table_quotes_the_file() -> None:
    readme = (RESULTS.parents[2] / "README.md").read_text()
    entries = {(e["target"], e["precision"]): e for e in T.table()["tolerances"]}
    quoted = 0
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 5 and (cells[0], cells[1]) in entries:
            entry = entries[(cells[0], cells[1])]
            assert (float(cells[2]), float(cells[3])) == (entry["logits_abs"], entry["score_abs"]), line
            quoted += 1
    assert quoted >= 4


def test_the_file_ships_with_the_package() -> None:
    import fnmatch
    import tomllib

    patterns = tomllib.loads((RESULTS.parents[2] / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["mvedge"]
    assert any(fnmatch.fnmatch(T.PATH.relative_to(T.PATH.parents[1]).as_posix(), p) for p in patterns)
