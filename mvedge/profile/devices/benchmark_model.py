"""LiteRT's benchmark_model tool on an Android phone: run it over adb and parse what it prints.

Output format (tensorflow/lite/tools/benchmark/benchmark_model.cc, BenchmarkLoggingListener::
OnBenchmarkEnd and BenchmarkModel::Run; LiteRT docs "Benchmark Interpreter API",
ai.google.dev/edge/litert/models/measurement), one line each, usually prefixed "INFO: ":
  count=50 first=79449 curr=81350 min=77385 max=88213 avg=79732 std=1929 [p5=.. median=.. p95=..]
      (once for warm-up runs, then once for the regular runs; microseconds)
  Inference timings in us: Init: 20283, First inference: 339304, Warmup (avg): 302814, Inference (avg): 266473
  Memory footprint delta from the start of the tool (MB): init=55.5 overall=55.5
  Overall peak memory footprint (MB) via periodic monitoring: 93.2   (--report_peak_memory_footprint=true)
  Peak memory footprint (MB): init=.. overall=..                      (older versions)
With --enable_op_profiling=true it also prints tables, among them
  ============================== Summary by node type ==============================
  	             [Node type]	  [count]	  [avg ms]	    [avg %]	    [cdf %]	  [mem KB]	[times called]
  	                 CONV_2D	       15	     1.406	    89.270%	    89.270%	     0.000	        0
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from mvedge.artifact import precision_of, sha256_of
from mvedge.errors import NotFound
from mvedge.profile.devices.adb import Adb
from mvedge.profile.devices.commands import DeviceError
from mvedge.profile.host import ProfileFailed
from mvedge.profile.schema import ProfileResult, throughput

REMOTE_DIR = "/data/local/tmp"
REMOTE_BINARY = f"{REMOTE_DIR}/benchmark_model"
_NUMBER = r"([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
_TIMINGS = re.compile(
    rf"Inference timings in us: Init: {_NUMBER}, First inference: {_NUMBER}, Warmup \(avg\): {_NUMBER}, Inference \(avg\): {_NUMBER}"
)
_PEAK = re.compile(rf"Overall peak memory footprint \(MB\) via periodic monitoring: {_NUMBER}")
_FOOTPRINT = re.compile(rf"(?:Memory footprint delta from the start of the tool|Peak memory footprint) \(MB\): init={_NUMBER} overall={_NUMBER}")
_THREADS = re.compile(r"(?:Num threads|#threads used for CPU inference): \[(\d+)\]")


def _content(line: str) -> str:
    """A line without the tool's log-level prefix ("INFO: ")."""
    return re.sub(r"^\s*(?:INFO|VERBOSE|WARNING|ERROR):\s*", "", line).strip()


def _stats_line(line: str) -> dict[str, float] | None:
    """The key=value pairs of a `count=...` statistics line (not the op profiler's "Timings ..." line)."""
    text = _content(line)
    if not text.startswith("count="):
        return None
    return {key: float(value) for key, value in re.findall(r"(\w+)=([-+\d.eE]+)", text)}


def _node_type_summary(lines: list[str]) -> list[dict[str, float | str]] | None:
    """Rows of the last "Summary by node type" table of the regular runs (the op profiler's)."""
    starts = [i for i, line in enumerate(lines) if "Summary by node type" in line]
    regular = [i for i, line in enumerate(lines) if "Regular Benchmark Runs" in line]
    if not starts:
        return None
    start = next((s for s in starts if regular and s > regular[-1]), starts[-1])
    rows = []
    for line in lines[start + 2 :]:
        cells = [c.strip() for c in re.split(r"\t+", _content(line)) if c.strip()]
        if len(cells) < 4 or not re.fullmatch(r"\d+", cells[1]):
            break
        rows.append({"name": cells[0], "count": int(cells[1]), "ms": float(cells[2]), "share": float(cells[3].rstrip("%")) / 100.0})
    return rows or None


def parse_benchmark_model(text: str) -> dict:
    """Timings (ms), statistics of the regular runs, memory (MB), threads and the op summary."""
    match = _TIMINGS.search(text)
    if not match:
        raise ValueError("no 'Inference timings in us: ...' line in benchmark_model's output (did it fail? see its output)")
    init_us, first_us, warmup_us, inference_us = (float(g) for g in match.groups())
    lines = text[: match.start()].splitlines()
    stats = [s for s in (_stats_line(line) for line in lines) if s]
    regular = stats[-1] if stats else {}
    peak = _PEAK.search(text)
    footprint = _FOOTPRINT.search(text)
    threads = _THREADS.search(text)
    return {
        "init_ms": init_us / 1000.0,
        "first_ms": first_us / 1000.0,
        "warmup_avg_ms": warmup_us / 1000.0,
        "avg_ms": inference_us / 1000.0,
        "runs": int(regular["count"]) if "count" in regular else None,
        "warmup_runs": int(stats[-2]["count"]) if len(stats) >= 2 else None,
        "min_ms": regular["min"] / 1000.0 if "min" in regular else None,
        "median_ms": regular["median"] / 1000.0 if "median" in regular else None,
        "peak_memory_mb": float(peak.group(1)) if peak else (float(footprint.group(2)) if footprint else None),
        "memory_method": "periodic monitoring" if peak else ("footprint delta (overall)" if footprint else None),
        "threads": int(threads.group(1)) if threads else None,
        "operators": _node_type_summary(text.splitlines()),
    }


def to_result(parsed: dict, artifact: Path, device, delegate: str) -> ProfileResult:
    """A profile result from parsed benchmark_model output."""
    notes = ["measured by LiteRT's benchmark_model; it reports averages, not per-run samples: p90 is not available"]
    p50 = parsed["median_ms"]
    if p50 is None:
        p50 = parsed["avg_ms"]
        notes.append("this benchmark_model prints no median: p50 is its average over the regular runs")
    if parsed["memory_method"]:
        notes.append(f"peak memory: benchmark_model's {parsed['memory_method']} (approximate, includes the tool itself)")
    operators = None
    if parsed["operators"]:
        operators = [{"name": r["name"], "ms": r["ms"], "share": r["share"]} for r in parsed["operators"]]
        notes.append("per-operator times: benchmark_model --enable_op_profiling 'Summary by node type' (a separate run)")
    return ProfileResult(
        artifact=artifact.name,
        sha256=sha256_of(artifact),
        target="tflite",
        precision=precision_of(artifact),
        runtime="litert",
        delegate=delegate,
        device=device,
        threads=parsed["threads"],
        warmup=parsed["warmup_runs"] or 0,
        runs=parsed["runs"] or 0,
        load_ms=parsed["init_ms"],
        latency_ms={"p50": p50, "p90": None, "min": parsed["min_ms"], "mean": parsed["avg_ms"]},
        samples_ms=[],
        throughput_fps=round(throughput(p50), 2),
        peak_memory_mb=parsed["peak_memory_mb"],
        operators=operators,
        notes=notes,
    )


def profile_benchmark_model(
    adb: Adb, artifact: Path, binary: str | None, threads: int, warmup: int, runs: int, breakdown: bool, timeout: float = 900
) -> ProfileResult:
    """Run benchmark_model on the phone (pushing `binary` first when given) and parse it."""
    if artifact.suffix != ".tflite":
        raise DeviceError(f"benchmark_model runs .tflite artifacts, not {artifact.suffix}")
    if binary:
        if not Path(binary).is_file():
            raise NotFound(f"benchmark_model binary {binary!r} does not exist")
        adb.push(binary, REMOTE_BINARY)
        adb.shell(f"chmod 755 {REMOTE_BINARY}")
    elif "benchmark_model" not in adb.shell(f"ls {REMOTE_BINARY}", check=False):
        raise DeviceError(
            f"benchmark_model is not on {adb.serial} at {REMOTE_BINARY}: download LiteRT's prebuilt android_aarch64 benchmark_model "
            "and pass it with --benchmark-model FILE"
        )
    remote = f"{REMOTE_DIR}/{artifact.name}"
    adb.push(artifact, remote)
    base = f"{REMOTE_BINARY} --graph={shlex.quote(remote)} --num_threads={threads} --use_xnnpack=true"
    timed = adb.run("shell", f"{base} --warmup_runs={warmup} --num_runs={runs} --report_peak_memory_footprint=true", timeout=timeout, check=False)
    try:
        parsed = parse_benchmark_model(timed.stdout + timed.stderr)
    except ValueError as exc:
        tail = (timed.stdout + timed.stderr).strip().splitlines()[-1:]
        raise ProfileFailed(f"benchmark_model failed on {adb.serial}: {tail[0] if tail else exc}") from exc
    if breakdown:
        profiled = adb.run("shell", f"{base} --warmup_runs=1 --num_runs={min(runs, 20)} --enable_op_profiling=true", timeout=timeout, check=False)
        try:
            parsed["operators"] = parse_benchmark_model(profiled.stdout + profiled.stderr)["operators"]
        except ValueError:
            parsed["operators"] = None
    return to_result(parsed, artifact, adb.device("benchmark_model"), "XNNPACK")
