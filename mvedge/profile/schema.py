"""The profile result: one JSON shape ("mvedge.profile/1") for host runs, phones and device farms.

The shape is the contract shared with the demo apps (android_demo, ios_demo): they write it, the
host reads it, and results from many devices can be gathered and compared. `notes` is mvedge's one
optional addition (plain sentences about what was or could not be measured); readers ignore keys
they do not know.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mvedge import strict_json
from mvedge.errors import BadInput, NotFound

SCHEMA = "mvedge.profile/1"
TARGETS = ("tflite", "executorch", "coreml", "onnx")
RUNTIMES = ("litert", "executorch", "coreml", "onnxruntime")
PLATFORMS = ("linux", "macos", "android", "ios", "windows")
SOURCES = ("host", "android_demo", "ios_demo", "benchmark_model", "executorch_benchmark", "qai_hub")


@dataclass
class Device:
    """Where a profile was measured."""

    platform: str
    model: str
    os: str
    abi: str | None
    source: str


@dataclass
class ProfileResult:
    """One artifact measured on one device. Times in milliseconds, memory in MiB."""

    artifact: str
    sha256: str | None
    target: str
    precision: str | None
    runtime: str
    delegate: str
    device: Device
    threads: int | None
    warmup: int
    runs: int
    load_ms: float | None
    latency_ms: dict[str, float | None]
    samples_ms: list[float]
    throughput_fps: float
    peak_memory_mb: float | None
    operators: list[dict[str, Any]] | None
    notes: list[str] = field(default_factory=list)
    schema: str = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form, keys in the contract's order."""
        data = asdict(self)
        return {"schema": data.pop("schema"), **data}

    def to_json(self) -> str:
        """Strict JSON text (no NaN/Infinity literals)."""
        return strict_json.dumps(self.to_dict(), indent=1)


def nearest_rank(sorted_values: list[float], percent: float) -> float:
    """The nearest-rank percentile of already sorted values (the contract's definition)."""
    if not sorted_values:
        raise ValueError("no samples")
    rank = max(1, math.ceil(percent / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def latency_stats(samples_ms: list[float]) -> dict[str, float]:
    """p50 and p90 (nearest rank), min and mean of per-run latencies."""
    values = sorted(float(v) for v in samples_ms)
    return {
        "p50": nearest_rank(values, 50),
        "p90": nearest_rank(values, 90),
        "min": values[0],
        "mean": sum(values) / len(values),
    }


def throughput(p50_ms: float, batch: int = 1) -> float:
    """Images per second at the median latency."""
    return batch * 1000.0 / p50_ms if p50_ms > 0 else 0.0


def operator_shares(times_ms: dict[str, float], total_ms: float, outside_label: str | None = None) -> list[dict[str, Any]]:
    """Operators sorted by time with their share of `total_ms`; with `outside_label`, the time no
    operator accounts for (runtime overhead between operators) as one more row."""
    rows = [{"name": name, "ms": round(ms, 4)} for name, ms in times_ms.items()]
    rest = total_ms - sum(times_ms.values())
    if outside_label and rest > 0:
        rows.append({"name": outside_label, "ms": round(rest, 4)})
    rows.sort(key=lambda row: -row["ms"])
    for row in rows:
        row["share"] = round(row["ms"] / total_ms, 4) if total_ms > 0 else 0.0
    return rows


def _number(value: Any, where: str, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadInput(f"{where} must be a finite number, got {value!r}")
    return float(value)


def from_dict(data: dict[str, Any], where: str = "profile result") -> ProfileResult:
    """Check a result against the contract and build it; ValueError names the first problem."""
    if not isinstance(data, dict):
        raise BadInput(f"{where} is not a JSON object")
    if data.get("schema") != SCHEMA:
        raise BadInput(f"{where} has schema {data.get('schema')!r}, expected {SCHEMA!r}")
    missing = [k for k in ("artifact", "target", "runtime", "device", "warmup", "runs", "latency_ms", "throughput_fps") if k not in data]
    if missing:
        raise BadInput(f"{where} lacks {', '.join(missing)}")
    if data["target"] not in TARGETS:
        raise BadInput(f"{where}: target {data['target']!r} is not one of {', '.join(TARGETS)}")
    if data["runtime"] not in RUNTIMES:
        raise BadInput(f"{where}: runtime {data['runtime']!r} is not one of {', '.join(RUNTIMES)}")
    dev = data["device"]
    if not isinstance(dev, dict) or dev.get("platform") not in PLATFORMS or dev.get("source") not in SOURCES:
        raise BadInput(f"{where}: device needs platform ({', '.join(PLATFORMS)}) and source ({', '.join(SOURCES)}), got {dev!r}")
    latency = data["latency_ms"]
    if not isinstance(latency, dict):
        raise BadInput(f"{where}: latency_ms must be an object")
    p50 = _number(latency.get("p50"), f"{where}: latency_ms.p50")
    if p50 <= 0:
        raise BadInput(f"{where}: latency_ms.p50 must be positive, got {p50}")
    stats = {"p50": p50, **{k: _number(latency.get(k), f"{where}: latency_ms.{k}", allow_none=True) for k in ("p90", "min", "mean")}}
    samples = [_number(v, f"{where}: samples_ms[{i}]") for i, v in enumerate(data.get("samples_ms") or [])]
    operators = data.get("operators")
    if operators is not None:
        if not isinstance(operators, list):
            raise BadInput(f"{where}: operators must be a list or null")
        for i, op in enumerate(operators):
            if not isinstance(op, dict) or not isinstance(op.get("name"), str):
                raise BadInput(f"{where}: operators[{i}] needs a name")
            _number(op.get("ms"), f"{where}: operators[{i}].ms")
            _number(op.get("share"), f"{where}: operators[{i}].share")
    for key in ("warmup", "runs"):
        if isinstance(data[key], bool) or not isinstance(data[key], int) or data[key] < 0:
            raise BadInput(f"{where}: {key} must be a non-negative integer, got {data[key]!r}")
    threads = data.get("threads")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)):
        raise BadInput(f"{where}: threads must be an integer or null, got {threads!r}")
    return ProfileResult(
        artifact=str(data["artifact"]),
        sha256=data.get("sha256"),
        target=data["target"],
        precision=data.get("precision"),
        runtime=data["runtime"],
        delegate=str(data.get("delegate") or "none"),
        device=Device(dev["platform"], str(dev.get("model") or "unknown"), str(dev.get("os") or "unknown"), dev.get("abi"), dev["source"]),
        threads=threads,
        warmup=data["warmup"],
        runs=data["runs"],
        load_ms=_number(data.get("load_ms"), f"{where}: load_ms", allow_none=True),
        latency_ms=stats,
        samples_ms=samples,
        throughput_fps=_number(data["throughput_fps"], f"{where}: throughput_fps"),
        peak_memory_mb=_number(data.get("peak_memory_mb"), f"{where}: peak_memory_mb", allow_none=True),
        operators=operators,
        notes=[str(n) for n in data.get("notes") or []],
    )


def consistency_notes(result: ProfileResult) -> list[str]:
    """Disagreements between a result's stated statistics and its own samples (from other tools)."""
    if not result.samples_ms:
        return []
    recomputed = latency_stats(result.samples_ms)
    notes = []
    for key, value in recomputed.items():
        stated = result.latency_ms.get(key)
        if stated is not None and abs(stated - value) > 0.01 * max(value, 1e-9) + 1e-6:
            notes.append(f"stated latency {key} {stated:.3f} ms differs from its samples' {value:.3f} ms")
    return notes


def _read(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"profile result {str(path)!r} does not exist")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path} is not JSON ({exc.msg} at line {exc.lineno})") from exc


def load_result(path: str | Path) -> ProfileResult:
    """Read and check a file holding one result."""
    return from_dict(_read(path), str(path))


def load_results(path: str | Path) -> list[ProfileResult]:
    """Read and check a saved file: one result (a JSON object, what `profile A --json` and the apps
    write) or several (a JSON list of them, what `profile A B --json` writes)."""
    data = _read(path)
    if isinstance(data, list):
        if not data:
            raise BadInput(f"{path} holds an empty list; expected profile results")
        return [from_dict(item, f"{path} [{i}]") for i, item in enumerate(data)]
    return [from_dict(data, str(path))]
