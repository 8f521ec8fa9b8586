#!/usr/bin/env python
"""The demo apps' contract tolerances per target and precision, derived from the ARM64 measurements
in benchmarks/results/arm64.json and written to mvedge/apps/tolerances.json (which
mvedge/apps/contract.py reads).

A measured pair's tolerance is SAFETY_FACTOR x (the largest difference between its ARM64 run
(emulated) and its x86 run over the benchmark's images and models, in the contract's own measures,
plus the largest change of the outputs when the input moves by the contract's input_abs, which an
app's own normalisation may). The rows of one precision's recipes (e.g. int8 and int8
--all-integer) count together. Pairs the emulation cannot stand for keep a documented floor (raised
to the tolerance of a measured runtime with the same kernels, where there is one).

    python benchmarks/arm64_tolerances.py                  # bench_arm64.py runs it after its results
    python benchmarks/arm64_tolerances.py --measure-input  # first re-measure the input response (host)
"""

from __future__ import annotations

import argparse
import datetime
import math
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "arm64.json"
TOLERANCES = REPO / "mvedge" / "apps" / "tolerances.json"
SCHEMA = "mvedge.tolerances/1"
INPUT_RESULTS = REPO / "benchmarks" / "results" / "input_response.json"
COMMAND = "python benchmarks/bench_arm64.py, python benchmarks/arm64_tolerances.py --measure-input"
DRAWS = 3

SAFETY_FACTOR = 2.0
FACTOR_WHY = (
    "the emulation is one ARM64 CPU (qemu -cpu max: dot product, i8mm, SVE) running one build of each runtime "
    "(ai-edge-litert 1.4.0, onnxruntime 1.32.0, executorch 1.5.1) on two small models; a phone may pick other kernels (an older core "
    "without dot product or i8mm), run a newer XNNPACK or another thread count, none of which was emulated"
)
INPUT_ABS = 1e-6
INPUT_WHY = (
    "not a kernel difference: the app builds the float32 input tensor from the 8-bit pixels with its own "
    "arithmetic, which may round differently from numpy's by a few float32 ulps (about 2.4e-7 at |x| near 2); "
    "nothing about it is emulated, so it stays a chosen bound"
)
MEASURED_ON = "ARM64 run (emulated) against the x86 run of the same artifact"
INPUT_RESPONSE_WHY = (
    "the app feeds the input tensor it built itself, which the contract lets differ from the stored one by "
    "input_abs: the float model's outputs for inputs moved by +-input_abs (random signs) against its outputs for "
    "the stored inputs, on the benchmark's images, are added to the kernel difference"
)

# (target, precision): why the emulation cannot stand for it, its floor, and the measured pair whose
# kernels it shares (its tolerance is never below that pair's), if any; an `unmeasured_only` floor
# stands in only while the pair has no ARM64 rows
_FLOAT = {"logits_abs": 1e-3, "score_abs": 1e-3}
_HALF = {"logits_abs": 2e-2, "score_abs": 1e-2}
_QUANT = {"logits_abs": 5e-2, "score_abs": 3e-2}
_EXECUTORCH_WHY = ("used only where ExecuTorch was not run on ARM64 (its runtime is an optional 2.5 GB part of the emulated "
                   "userland); its XNNPACK kernels are those of LiteRT's delegate, so the LiteRT measurement bounds it from below")
_COREML_WHY = ("Core ML runs here only in coremltools' MIL interpreter (no Apple runtime exists for Linux); Apple's CPU, GPU and "
               "Neural Engine kernels, their accumulation order and fp16 arithmetic cannot be emulated")
FLOORS: dict[tuple[str, str], dict[str, Any]] = {
    ("tflite", "fp16"): {**_HALF, "like": None, "why": (
        "the benchmark's fp16 rows ran in fp32 arithmetic; with XNNPACK's fp16 arithmetic forced, as phones with ARMv8.2 "
        "fp16 run fp16 models (now what --arch arm64 runs), ARM64 differed from x86 by 8.9e-3 on logits and 1.7e-3 on "
        "scores over 100 digits (BENCHMARKS.md section 7), below half of this floor")},
    ("executorch", "fp32"): {**_FLOAT, "like": ("tflite", "fp32"), "why": _EXECUTORCH_WHY, "unmeasured_only": True},
    ("executorch", "int8"): {**_QUANT, "like": ("tflite", "int8"), "why": _EXECUTORCH_WHY, "unmeasured_only": True},
    ("executorch", "coreml-fp16"): {**_HALF, "like": None, "why": _COREML_WHY},
    ("coreml", "fp32"): {**_FLOAT, "like": None, "why": _COREML_WHY},
    ("coreml", "fp16"): {**_HALF, "like": None, "why": _COREML_WHY},
    ("coreml", "w8"): {**_QUANT, "like": None, "why": _COREML_WHY},
    ("coreml", "palette6"): {**_QUANT, "like": None, "why": _COREML_WHY},
    ("coreml", "palette4"): {**_QUANT, "like": None, "why": _COREML_WHY},
    ("coreml", "int8"): {**_QUANT, "like": None, "why": _COREML_WHY},
}
MEASURES = {"logits_abs": "arm_vs_x86_logits_rel", "score_abs": "arm_vs_x86_score_abs"}


def round_up(value: float, digits: int = 2) -> float:
    """`value` rounded up to `digits` significant digits (never below it)."""
    if value <= 0:
        return 0.0
    step = 10.0 ** (math.floor(math.log10(value)) - digits + 1)
    out = round(math.ceil(value / step) * step, 15)
    return out if out >= value else round(out + step, 15)


def max_relative(outputs, expected) -> float:
    """The contract's logits measure: max over images of max|out - exp| / max(1, max|exp|)."""
    import numpy as np

    scale = np.maximum(1.0, np.abs(expected).max(axis=1))
    return float((np.abs(outputs - expected).max(axis=1) / scale).max())


def max_score_diff(outputs, expected) -> float:
    """The contract's score measure: max |softmax(out) - softmax(exp)| over images and classes."""
    import numpy as np

    def softmax(x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    return float(np.abs(softmax(outputs.astype(np.float64)) - softmax(expected.astype(np.float64))).max())


def measure_input_response(limit: int = 100, photo_limit: int = 8, draws: int = DRAWS) -> dict[str, Any]:
    """Per model: the largest change of the float model's outputs when every input value moves by
    +-INPUT_ABS (seeded random signs, `draws` times), in the contract's measures (host only, no emulation)."""
    import tempfile

    import numpy as np

    from mvedge.model.bundle import load_bundle
    from mvedge.verify.check import float_reference
    from mvedge.verify.data import verification_set
    from mvedge.verify.reference import t_shaped_bundle

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("digits", "t-shaped"):
            bundle = load_bundle() if name == "digits" else t_shaped_bundle(tmp)
            images, _, description = verification_set(bundle, limit=limit if name == "digits" else photo_limit)
            base = float_reference(bundle, images)
            rng = np.random.default_rng(0)
            worst = {"logits_abs": 0.0, "score_abs": 0.0}
            for _ in range(draws):
                signs = rng.integers(0, 2, size=images.shape).astype(np.float32) * 2 - 1
                moved = float_reference(bundle, (images + signs * np.float32(INPUT_ABS)).astype(np.float32))
                worst = {"logits_abs": max(worst["logits_abs"], max_relative(moved, base)),
                         "score_abs": max(worst["score_abs"], max_score_diff(moved, base))}
            rows.append({"model": name, "images": description, "draws": draws, "input_abs": INPUT_ABS, **worst})
    return {"why": INPUT_RESPONSE_WHY, "rows": rows}


def measured_pairs(results: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(target, precision) -> the rows run on ARM64, with the contract's measures (a recipe's flags
    such as --all-integer count with its precision)."""
    pairs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in results["rows"]:
        if row.get("status") == "run":
            pairs.setdefault((row["target"], row["precision"].split()[0]), []).append(row)
    return pairs


def derive(results: dict[str, Any], response: dict[str, Any], factor: float = SAFETY_FACTOR) -> list[dict[str, Any]]:
    """One entry per (target, precision): its tolerances, their basis and the measured maxima
    (`response`: the input response, added to every measured pair's kernel difference)."""
    pairs = measured_pairs(results)
    moved = {key: max((float(r[key]) for r in response["rows"]), default=0.0) for key in MEASURES}
    maxima = {pair: {key: max(float(r[column]) for r in rows) for key, column in MEASURES.items()} for pair, rows in pairs.items()}
    entries = []
    for pair in sorted(set(pairs) | set(FLOORS)):
        floor = FLOORS.get(pair)
        if floor and floor.get("unmeasured_only") and pair in pairs:
            floor = None
        basis = pair if pair in pairs else (floor or {}).get("like")
        entry: dict[str, Any] = {"target": pair[0], "precision": pair[1], "input_abs": INPUT_ABS}
        for key in MEASURES:
            values = []
            if basis in maxima:
                values.append(round_up(factor * (maxima[basis][key] + moved[key])))
            if floor:
                values.append(floor[key])
            entry[key] = max(values)
        if pair in pairs:
            entry["basis"] = "measured" if floor is None else "measured, with a floor"
            entry["measured"] = {key: maxima[pair][key] for key in MEASURES}
            entry["input_response"] = moved
            entry["rows"] = [
                {"model": r["model"], "precision": r["precision"], "images": r["images"], "runtime": r["runtime"],
                 **{key: float(r[column]) for key, column in MEASURES.items()},
                 "arm_vs_float_logits_rel": float(r["arm_vs_float_logits_rel"]), "arm_vs_float_score_abs": float(r["arm_vs_float_score_abs"])}
                for r in pairs[pair]
            ]
        else:
            entry["basis"] = "floor" if basis not in maxima else f"floor, at least {basis[0]} {basis[1]}'s measured tolerance"
        if floor:
            entry["floor"] = {key: floor[key] for key in MEASURES}
            entry["not_measured"] = floor["why"]
        entries.append(entry)
    return entries


def document(results: dict[str, Any], response: dict[str, Any], date: str, factor: float = SAFETY_FACTOR) -> dict[str, Any]:
    """tolerances.json: how the values were measured and derived, and one entry per pair."""
    return {
        "schema": SCHEMA,
        "command": COMMAND,
        "date": date,
        "results": ["benchmarks/results/arm64.json", "benchmarks/results/input_response.json"],
        "measured": MEASURED_ON,
        "measures": {"logits_abs": "max over images of max|arm - x86| / max(1, max|x86|)",
                     "score_abs": "max over images and classes of |softmax(arm) - softmax(x86)|"},
        "emulator": f"{results.get('emulator', '')}, -cpu {results.get('cpu', '')}",
        "safety_factor": factor,
        "safety_factor_why": FACTOR_WHY,
        "input_abs_why": INPUT_WHY,
        "input_response": response,
        "tolerances": derive(results, response, factor),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--measure-input", action="store_true", help="re-measure the input response (float model, host) first")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from mvedge import strict_json

    if args.measure_input or not INPUT_RESULTS.exists():
        strict_json.write_atomic(INPUT_RESULTS, measure_input_response(), indent=1)
        print(f"wrote {INPUT_RESULTS.relative_to(REPO)}", file=sys.stderr)
    results, response = strict_json.loads(RESULTS.read_text()), strict_json.loads(INPUT_RESULTS.read_text())
    strict_json.write_atomic(TOLERANCES, document(results, response, datetime.date.today().isoformat()), indent=1)
    print(f"wrote {TOLERANCES.relative_to(REPO)}", file=sys.stderr)


if __name__ == "__main__":
    main()
