"""`mvedge benchmark` results: one row per target x precision, as a table, CSV, JSON and chart points."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

CORE_ML_NOT_PROFILED = "verified (interpreter), not profiled: Core ML latency needs an Apple device"
APPLE_DELEGATE_NOT_PROFILED = "not verified or profiled: the CoreML delegate runs only on Apple devices"


@dataclass
class BenchmarkRow:
    """What happened to one target x precision, and its numbers."""

    target: str
    precision: str
    status: str  # converted | verified | failed | skipped (its toolchain is not installed)
    note: str = ""
    size_mb: float | None = None
    convert_s: float | None = None
    accuracy: float | None = None
    float_accuracy: float | None = None
    psnr_db: float | None = None
    cosine: float | None = None
    top1_agreement: float | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    fps: float | None = None
    load_ms: float | None = None
    peak_memory_mb: float | None = None
    artifact: str = ""
    profile: dict[str, Any] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


CSV_HEADER = [
    "target", "precision", "status", "note", "size_mb", "convert_s", "accuracy", "float_accuracy", "psnr_db", "cosine",
    "top1_agreement", "p50_ms", "p90_ms", "fps", "load_ms", "peak_memory_mb", "artifact",
]
TABLE_HEADER = ["target", "precision", "status", "size MB", "accuracy", "PSNR dB", "top-1 agree", "p50 ms", "FPS", "note"]


def _fmt(value: float | None, spec: str) -> str:
    if value is None:
        return "-"
    if value == float("inf"):
        return "inf"
    return format(value, spec)


def csv_rows(rows: list[BenchmarkRow]) -> list[list[Any]]:
    """Rows for the CSV file, in CSV_HEADER's order (empty cells for missing values)."""
    return [["" if getattr(r, k) is None else getattr(r, k) for k in CSV_HEADER] for r in rows]


def format_table(rows: list[BenchmarkRow]) -> str:
    """The closing table of `mvedge benchmark`."""
    lines = [TABLE_HEADER]
    for r in rows:
        lines.append(
            [
                r.target, r.precision, r.status, _fmt(r.size_mb, ".2f"), _fmt(r.accuracy, ".3f"), _fmt(r.psnr_db, ".1f"),
                _fmt(r.top1_agreement, ".3f"), _fmt(r.p50_ms, ".2f"), _fmt(r.fps, ".1f"), r.note,
            ]
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(TABLE_HEADER))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)


def chart_points(rows: list[BenchmarkRow]) -> list[dict[str, Any]]:
    """One point per written artifact (verified or converted): target, precision, latency (None
    when it was not profiled, e.g. Core ML on Linux), size, accuracy and PSNR (an infinite PSNR,
    i.e. identical outputs, is left out of the PSNR panel)."""
    return [
        {
            "label": f"{r.target} {r.precision}",
            "target": r.target,
            "precision": r.precision,
            "p50_ms": r.p50_ms,
            "size_mb": r.size_mb,
            "accuracy": r.accuracy,
            "psnr_db": r.psnr_db if r.psnr_db is not None and r.psnr_db != float("inf") else None,
        }
        for r in rows
        if r.status in ("verified", "converted") and r.artifact
    ]
