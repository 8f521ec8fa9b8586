"""ExecuTorch's Android benchmark app ("minibench", org.pytorch.minibench) over adb, and its results.

The app (executorch/extension/benchmark/android/benchmark, README "Minibench: ExecuTorch Android
Benchmark App") loads the first .pte in `model_dir`, runs `num_warm_up_iter` then `num_iter`
forwards, and writes files/benchmark_results.json (fetched with `adb shell run-as
org.pytorch.minibench cat files/benchmark_results.json`): a Gson list of BenchmarkMetric
objects (BenchmarkMetric.kt / ModelRunner.kt):
  [{"benchmarkModel": {"name": "...", "backend": "...", "quantization": "..."},
    "metric": "avg_inference_latency(ms)", "actualValue": 12.3, "targetValue": 0.0,
    "deviceInfo": {"device": "<Build.BRAND>", "arch": "<Build.MODEL>", "os": "Android 14",
                   "totalMem": ..., "availMem": ...}}, ...]
with metrics avg_inference_latency(ms), trimmean_inference_latency(ms) (mean of the middle 80%),
model_load_time(ms), load_status (0 = loaded) and ram_pss_usage(mb).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from mvedge.artifact import precision_of, sha256_of
from mvedge.profile.devices.adb import Adb
from mvedge.profile.devices.commands import DeviceError, poll
from mvedge.profile.host import ProfileFailed
from mvedge.profile.schema import Device, ProfileResult, throughput

PACKAGE = "org.pytorch.minibench"
ACTIVITY = f"{PACKAGE}/.BenchmarkActivity"
REMOTE_DIR = "/data/local/tmp/minibench"
RESULTS = "files/benchmark_results.json"


def parse_minibench(data: list | str) -> dict:
    """Metrics by name, the device info and the model info of the app's results JSON."""
    if isinstance(data, str):
        data = json.loads(data)
    if not isinstance(data, list) or not data:
        raise ValueError("minibench results are not a non-empty JSON list of metrics")
    metrics = {}
    for entry in data:
        if not isinstance(entry, dict) or "metric" not in entry or "actualValue" not in entry:
            raise ValueError(f"minibench result entry without metric/actualValue: {entry!r}")
        metrics[entry["metric"]] = float(entry["actualValue"])
    return {"metrics": metrics, "device": data[0].get("deviceInfo") or {}, "model": data[0].get("benchmarkModel") or {}}


def to_result(parsed: dict, artifact: Path, warmup: int, runs: int, abi: str | None) -> ProfileResult:
    """A profile result from parsed minibench metrics."""
    metrics = parsed["metrics"]
    status = metrics.get("load_status", 0.0)
    if status != 0:
        raise ProfileFailed(f"ExecuTorch's benchmark app could not load {artifact.name} (load_status {int(status)})")
    if "avg_inference_latency(ms)" not in metrics:
        raise ProfileFailed("ExecuTorch's benchmark app reported no avg_inference_latency(ms)")
    mean = metrics["avg_inference_latency(ms)"]
    p50 = metrics.get("trimmean_inference_latency(ms)", mean)
    info = parsed["device"]
    model = " ".join(str(info[k]) for k in ("device", "arch") if info.get(k)) or "unknown"
    notes = [
        "measured by ExecuTorch's Android benchmark app (minibench); it reports means, not percentiles or samples: "
        "p50 is its trimmed mean (middle 80% of runs), p90 and min are not available",
        "threads: the app's default (ExecuTorch's thread pool sized to the performance cores)",
    ]
    if "ram_pss_usage(mb)" in metrics:
        notes.append("peak memory: the app's PSS growth from before loading to after the runs (ram_pss_usage)")
    return ProfileResult(
        artifact=artifact.name,
        sha256=sha256_of(artifact),
        target="executorch",
        precision=precision_of(artifact),
        runtime="executorch",
        delegate=str(parsed["model"].get("backend") or "XNNPACK"),
        device=Device("android", model, str(info.get("os") or "Android ?"), abi, "executorch_benchmark"),
        threads=None,
        warmup=warmup,
        runs=runs,
        load_ms=metrics.get("model_load_time(ms)"),
        latency_ms={"p50": p50, "p90": None, "min": None, "mean": mean},
        samples_ms=[],
        throughput_fps=round(throughput(p50), 2),
        peak_memory_mb=metrics.get("ram_pss_usage(mb)"),
        operators=None,
        notes=notes,
    )


def profile_minibench(
    adb: Adb, artifact: Path, warmup: int, runs: int, timeout: float = 900, sleep: Callable[[float], None] = time.sleep
) -> ProfileResult:
    """Push the .pte alone into the app's model folder, start the benchmark, wait for its results."""
    if artifact.suffix != ".pte":
        raise DeviceError(f"ExecuTorch's benchmark app runs .pte artifacts, not {artifact.suffix}")
    if f"package:{PACKAGE}" not in adb.shell(f"pm list packages {PACKAGE}", timeout=60).split():
        raise DeviceError(
            f"ExecuTorch's benchmark app ({PACKAGE}) is not installed on {adb.serial}: build it from "
            "executorch/extension/benchmark/android/benchmark (./gradlew installDebug)"
        )
    adb.shell(f"rm -rf {REMOTE_DIR} && mkdir -p {REMOTE_DIR}")  # the app takes the first .pte it finds
    adb.push(artifact, f"{REMOTE_DIR}/{artifact.name}")
    adb.shell(f"run-as {PACKAGE} rm -f {RESULTS}", check=False)
    adb.shell(
        f"am start -W -S -n {ACTIVITY} --es model_dir {REMOTE_DIR} --ei num_iter {runs} --ei num_warm_up_iter {warmup}", timeout=120
    )

    def read() -> dict | None:
        out = adb.run("shell", f"run-as {PACKAGE} cat {RESULTS}", timeout=60, check=False)
        try:
            return parse_minibench(out.stdout) if out.returncode == 0 and out.stdout.strip() else None
        except (ValueError, json.JSONDecodeError):
            return None  # still being written

    parsed = poll(read, timeout, 2.0, sleep)
    if parsed is None:
        raise ProfileFailed(f"ExecuTorch's benchmark app wrote no {RESULTS} within {timeout:.0f} s")
    return to_result(parsed, artifact, warmup, runs, adb.getprop("ro.product.cpu.abi") or None)
