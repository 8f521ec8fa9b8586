#!/usr/bin/env python
"""The demo apps' contract tolerances per target and precision, derived from the ARM64 measurements
in benchmarks/results/arm64.json and written to mvedge/apps/tolerances.json (which
mvedge/apps/contract.py reads).

A measured pair's tolerance is SAFETY_FACTOR x the largest difference between its ARM64 run
(emulated) and its x86 run over the benchmark's images and models, in the contract's own measures;
the rows of one precision's recipes (e.g. int8 and int8 --all-integer) count together. Pairs the
emulation cannot stand for keep a documented floor (raised to the factor x the measured difference
of a runtime with the same kernels, where there is one).

    python benchmarks/arm64_tolerances.py      # bench_arm64.py runs it after writing its results
"""

from __future__ import annotations

import datetime
import math
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "arm64.json"
TOLERANCES = REPO / "mvedge" / "apps" / "tolerances.json"
SCHEMA = "mvedge.tolerances/1"
COMMAND = "python benchmarks/bench_arm64.py, then python benchmarks/arm64_tolerances.py"

SAFETY_FACTOR = 2.0
FACTOR_WHY = (
    "the emulation is one ARM64 CPU (qemu -cpu max: dot product, i8mm, SVE) running one build of each runtime "
    "(ai-edge-litert 1.4.0, onnxruntime 1.32.0) on two small models; a phone may pick other kernels (an older core "
    "without dot product or i8mm), run a newer XNNPACK or another thread count, none of which was emulated"
)
INPUT_ABS = 1e-6
INPUT_WHY = (
    "not a kernel difference: the app builds the float32 input tensor from the 8-bit pixels with its own "
    "arithmetic, which may round differently from numpy's by a few float32 ulps (about 2.4e-7 at |x| near 2); "
    "nothing about it is emulated, so it stays a chosen bound"
)
MEASURED_ON = "ARM64 run (emulated) against the x86 run of the same artifact"

# (target, precision): why the emulation cannot stand for it, its floor, and the measured pair whose
# kernels it shares (its tolerance is never below that pair's), if any
_FLOAT = {"logits_abs": 1e-3, "score_abs": 1e-3}
_HALF = {"logits_abs": 2e-2, "score_abs": 1e-2}
_QUANT = {"logits_abs": 5e-2, "score_abs": 3e-2}
_EXECUTORCH_WHY = ("ExecuTorch cannot run on ARM64 here (its Python runtime needs libtorch, and PyPI's aarch64 torch is a "
                   "CUDA build); its XNNPACK kernels are those of LiteRT's delegate, so the LiteRT measurement bounds it from below")
_COREML_WHY = ("Core ML runs here only in coremltools' MIL interpreter (no Apple runtime exists for Linux); Apple's CPU, GPU and "
               "Neural Engine kernels, their accumulation order and fp16 arithmetic cannot be emulated")
FLOORS: dict[tuple[str, str], dict[str, Any]] = {
    ("tflite", "fp16"): {**_HALF, "like": None, "why": (
        "measured only with fp32 arithmetic: ai-edge-litert's Python interpreter cannot ask XNNPACK for fp16 arithmetic, "
        "which a phone with ARMv8.2 fp16 may use for an fp16 model, so that case is not measured")},
    ("executorch", "fp32"): {**_FLOAT, "like": ("tflite", "fp32"), "why": _EXECUTORCH_WHY},
    ("executorch", "int8"): {**_QUANT, "like": ("tflite", "int8"), "why": _EXECUTORCH_WHY},
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


def measured_pairs(results: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(target, precision) -> the rows run on ARM64, with the contract's measures (a recipe's flags
    such as --all-integer count with its precision)."""
    pairs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in results["rows"]:
        if row.get("status") == "run":
            pairs.setdefault((row["target"], row["precision"].split()[0]), []).append(row)
    return pairs


def derive(results: dict[str, Any], factor: float = SAFETY_FACTOR) -> list[dict[str, Any]]:
    """One entry per (target, precision): its tolerances, their basis and the measured maxima."""
    pairs = measured_pairs(results)
    maxima = {pair: {key: max(float(r[column]) for r in rows) for key, column in MEASURES.items()} for pair, rows in pairs.items()}
    entries = []
    for pair in sorted(set(pairs) | set(FLOORS)):
        floor = FLOORS.get(pair)
        basis = pair if pair in pairs else (floor or {}).get("like")
        entry: dict[str, Any] = {"target": pair[0], "precision": pair[1], "input_abs": INPUT_ABS}
        for key in MEASURES:
            values = []
            if basis in maxima:
                values.append(round_up(factor * maxima[basis][key]))
            if floor:
                values.append(floor[key])
            entry[key] = max(values)
        if pair in pairs:
            entry["basis"] = "measured" if floor is None else "measured, with a floor"
            entry["measured"] = {key: maxima[pair][key] for key in MEASURES}
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


def document(results: dict[str, Any], date: str, factor: float = SAFETY_FACTOR) -> dict[str, Any]:
    """tolerances.json: how the values were measured and derived, and one entry per pair."""
    return {
        "schema": SCHEMA,
        "command": COMMAND,
        "date": date,
        "results": "benchmarks/results/arm64.json",
        "measured": MEASURED_ON,
        "measures": {"logits_abs": "max over images of max|arm - x86| / max(1, max|x86|)",
                     "score_abs": "max over images and classes of |softmax(arm) - softmax(x86)|"},
        "emulator": f"{results.get('emulator', '')}, -cpu {results.get('cpu', '')}",
        "safety_factor": factor,
        "safety_factor_why": FACTOR_WHY,
        "input_abs_why": INPUT_WHY,
        "tolerances": derive(results, factor),
    }


def main() -> None:
    sys.path.insert(0, str(REPO))
    from mvedge import strict_json

    results = strict_json.loads(RESULTS.read_text())
    strict_json.write_atomic(TOLERANCES, document(results, datetime.date.today().isoformat()), indent=1)
    print(f"wrote {TOLERANCES.relative_to(REPO)}", file=sys.stderr)


if __name__ == "__main__":
    main()
