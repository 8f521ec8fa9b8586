"""The profiling subprocess: load one artifact, time warm-up and timed runs, measure its peak memory,
then (optionally) time its operators. Run by mvedge.profile.host; writes one JSON file.

`python -m mvedge.profile.worker ARTIFACT --threads N --warmup W --runs R --breakdown-runs B --out FILE`
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from mvedge.artifact import read_sidecar, target_of
from mvedge.profile.memory import PeakMemory
from mvedge.progress import Progress

RUNTIME_MODULES = {
    "onnx": ["onnxruntime"],
    "executorch": ["executorch.runtime", "executorch.extension.pybindings.portable_lib"],
    "tflite": ["ai_edge_litert.interpreter"],
    "coreml": ["coremltools"],
}


def _import_runtime(target: str) -> None:
    """Import the runtime before timing the load, so the load time is the artifact's only."""
    from mvedge.verify.runners.base import RuntimeUnavailable

    for name in RUNTIME_MODULES[target]:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise RuntimeUnavailable(f"{name} is not installed; install the {target} extra: pip install \"mvedge[{target}]\"") from exc


def _shape_from_runner(runner) -> tuple[int, int, int, int]:
    """(batch, channels, height, width) asked of the runtime when the artifact has no sidecar."""
    target = runner.target
    if target == "onnx":
        dims = runner.session.get_inputs()[0].shape
        batch, channels, height, width = (d if isinstance(d, int) else 1 for d in dims)
    elif target == "tflite":
        dims = [int(d) for d in runner.input["shape"]]
        batch, channels, height, width = (dims[0], dims[3], dims[1], dims[2]) if runner.layout == "NHWC" else dims
    elif target == "executorch":
        dims = list(runner.program.metadata("forward").input_tensor_meta(0).sizes())
        batch, channels, height, width = dims
    else:
        spec = next(iter(runner.io.inputs.values()))
        batch, channels, height, width = (int(d) for d in spec["shape"])
    return int(batch), int(channels), int(height), int(width)


def _delegate(runner) -> str:
    if runner.target == "tflite":
        return runner.delegate
    if runner.target == "onnx":
        return "none (CPUExecutionProvider)"
    if runner.target == "executorch":
        from mvedge.verify.runners.executorch import required_backends

        backends = required_backends(runner.path, runner.sidecar)
        return ", ".join(b.replace("Backend", "").upper() if b == "XnnpackBackend" else b for b in backends) or "none (portable kernels)"
    return "ALL"  # Core ML's default compute units, which the runner is opened with


def _threads_used(runner, threads: int) -> int:
    if runner.target == "executorch":
        from executorch.extension.pybindings import portable_lib

        return int(portable_lib._threadpool_get_thread_count())
    return threads


def measure(path: Path, threads: int, warmup: int, runs: int, breakdown_runs: int, progress: Progress) -> dict:
    """Everything the host profile needs from inside the subprocess."""
    from mvedge.verify.runners import open_runner

    target = target_of(path)
    with progress.stage(f"importing the {target} runtime"):
        _import_runtime(target)
    sidecar = read_sidecar(path, required=False)  # a bare artifact: the runtime gives the input shape
    sidecar_shape = sidecar.input_shape() if sidecar is not None else None
    memory = PeakMemory()
    memory.start()
    start = time.perf_counter()
    options = {"threads": threads}
    if target == "coreml":
        options["backend"] = "coreml"
    runner = open_runner(path, sidecar=sidecar, **options)
    load_ms = (time.perf_counter() - start) * 1000.0
    shape = sidecar_shape or _shape_from_runner(runner)
    batch = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with progress.stage(f"{warmup} warm-up and {runs} timed runs, {threads} thread(s)"):
        for _ in range(warmup):
            runner.run(batch)
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            runner.run(batch)
            samples.append((time.perf_counter() - start) * 1000.0)
    peak = memory.peak_mb()
    result = {
        "load_ms": load_ms,
        "samples_ms": samples,
        "peak_memory_mb": peak,
        "threads": _threads_used(runner, threads),
        "delegate": _delegate(runner),
        "batch": shape[0],
        "operators": None,
        "notes": [f"peak memory: {memory.method}", "load time: opening the artifact in its runtime (read, deserialise, delegate setup, allocation)"],
    }
    if breakdown_runs > 0:
        from mvedge.profile.breakdown import operator_breakdown

        with progress.stage(f"per-operator profile over {breakdown_runs} runs"):
            result["operators"], notes = operator_breakdown(path, batch, threads, breakdown_runs)
        result["notes"] += notes
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mvedge.profile.worker")
    parser.add_argument("artifact")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--warmup", type=int, required=True)
    parser.add_argument("--runs", type=int, required=True)
    parser.add_argument("--breakdown-runs", type=int, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    from mvedge.verify.runners.base import RuntimeUnavailable

    progress = Progress("profile", quiet=args.quiet)
    try:
        payload = measure(Path(args.artifact), args.threads, args.warmup, args.runs, args.breakdown_runs, progress)
        code = 0
    except RuntimeUnavailable as exc:
        payload, code = {"error": str(exc), "unavailable": True}, 3
    except Exception as exc:  # reported to the parent as one line; the traceback goes to stderr
        traceback.print_exc(file=sys.stderr)
        payload, code = {"error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"}, 1
    Path(args.out).write_text(json.dumps(payload))
    return code


if __name__ == "__main__":
    sys.exit(main())
