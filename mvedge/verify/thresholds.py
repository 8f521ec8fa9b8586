"""Drift thresholds per precision: the one place that says how close an artifact must be.

Each threshold is strict enough that a wrong layout, a wrong mean/std or a broken scan fails it
(those give cosine ~0.5-0.9 and PSNR < 15 dB on the embedded model), and loose enough for the
rounding the precision implies.
"""

from __future__ import annotations

from dataclasses import dataclass

from mvedge.errors import BadInput
from mvedge.verify.metrics import Drift


@dataclass(frozen=True)
class Threshold:
    """Minimum PSNR (dB), cosine similarity and top-1 agreement an artifact must reach."""

    min_psnr_db: float
    min_cosine: float
    min_top1_agreement: float
    reason: str


THRESHOLDS: dict[str, Threshold] = {
    "fp32": Threshold(
        60.0, 0.99999, 0.99,
        "same arithmetic in another runtime: only summation order differs (~1e-6 relative, > 100 dB measured)",
    ),
    "fp16": Threshold(
        35.0, 0.9995, 0.97,
        "fp16 activations and weights: ~1e-3 relative per op, a few ulps accumulated through the depth",
    ),
    "coreml-fp16": Threshold(
        35.0, 0.9995, 0.97,
        "ExecuTorch's CoreML delegate at fp16 compute precision: the fp16 bound (checked only where Core ML runs, Apple devices)",
    ),
    "int8": Threshold(
        20.0, 0.99, 0.90,
        "8-bit weights (and activations where static): ~1-5% relative noise; a lost scan path measured cosine 0.90",
    ),
    "w8": Threshold(
        25.0, 0.995, 0.95,
        "8-bit weights only, float activations: per-channel weight rounding only",
    ),
    "palette6": Threshold(
        20.0, 0.99, 0.90,
        "6-bit palettized weights (64-entry look-up tables per tensor): about int8 weight noise",
    ),
    "palette4": Threshold(
        12.0, 0.95, 0.80,
        "4-bit palettized weights (16 entries): coarse, meant to be checked on the user's data",
    ),
}


def threshold_for(precision: str) -> Threshold:
    """The threshold of a precision name (fp32, fp16, int8 variants map to their family)."""
    if precision in THRESHOLDS:
        return THRESHOLDS[precision]
    for family in ("int8", "fp16", "fp32"):
        if precision.startswith(family):
            return THRESHOLDS[family]
    raise BadInput(f"no drift threshold for precision {precision!r}; known: {', '.join(THRESHOLDS)}")


def failures(drift: Drift, precision: str) -> list[str]:
    """What in `drift` is past the precision's threshold (empty: the artifact passes); for several
    outputs, every output is checked and each problem names its output; for several input sizes,
    every size, and each problem names its size."""
    if drift.sizes:
        return [f"{size}: {p}" for size, numbers in drift.sizes.items() for p in failures(Drift(**numbers), precision)]
    if drift.outputs:
        return [f"{name}: {p}" for name, numbers in drift.outputs.items() for p in failures(Drift(**numbers, samples=drift.samples), precision)]
    limit = threshold_for(precision)
    problems = []
    if not drift.psnr_db >= limit.min_psnr_db:
        problems.append(f"PSNR {drift.psnr_db:.1f} dB < {limit.min_psnr_db:.0f} dB")
    if not drift.cosine >= limit.min_cosine:
        problems.append(f"cosine {drift.cosine:.6f} < {limit.min_cosine}")
    if drift.top1_agreement is not None and not drift.top1_agreement >= limit.min_top1_agreement:
        problems.append(f"top-1 agreement {drift.top1_agreement:.3f} < {limit.min_top1_agreement}")
    return problems
