"""onnxruntime's profiler: run a profiling session, read its JSON trace, sum node times by op type."""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from mvedge.profile.schema import operator_shares

OUTSIDE = "(between operators: executor overhead)"


def per_run_op_times(events: list[dict[str, Any]], skip_runs: int = 1) -> tuple[dict[str, float], float, int]:
    """(mean ms per run by op type, mean ms per run of model_run, runs used) from an onnxruntime
    trace. Node events ("cat": "Node", name "<node>_kernel_time", args.op_name, dur in us) are
    assigned to the model_run event whose span holds them; the first `skip_runs` runs are dropped."""
    runs = sorted((e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"), key=lambda e: e["ts"])
    kept = runs[skip_runs:]
    if not kept:
        raise ValueError(f"the trace has {len(runs)} model runs; need more than {skip_runs}")
    spans = [(e["ts"], e["ts"] + e["dur"]) for e in kept]
    totals: dict[str, float] = defaultdict(float)
    for event in events:
        if event.get("cat") != "Node" or not str(event.get("name", "")).endswith("_kernel_time"):
            continue
        ts = event["ts"]
        if any(start <= ts <= end for start, end in spans):
            op = (event.get("args") or {}).get("op_name") or event["name"]
            totals[op] += event["dur"] / 1000.0
    count = len(kept)
    run_ms = sum(e["dur"] for e in kept) / 1000.0 / count
    return {op: ms / count for op, ms in totals.items()}, run_ms, count


def breakdown(path: Path, batch: np.ndarray, threads: int, runs: int):
    """Profile `runs` runs (after one unprofiled warm-up) in a profiling session of its own."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="mvedge-ort-") as tmp:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "ort")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: batch.astype(np.float32)}
        for _ in range(runs + 1):
            session.run(None, feed)
        trace = session.end_profiling()
        events = json.loads(Path(trace).read_text())
    times, run_ms, count = per_run_op_times(events, skip_runs=1)
    note = f"per-operator times: onnxruntime profiler, by ONNX op type (after graph fusion), mean of {count} profiled runs of {run_ms:.2f} ms"
    return operator_shares(times, run_ms, OUTSIDE), [note]
