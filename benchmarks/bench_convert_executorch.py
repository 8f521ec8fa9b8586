#!/usr/bin/env python
"""ExecuTorch conversion at MambaVision-T 224 (random weights): time, peak memory, size, delegation.

Each precision converts in its own subprocess (so peak RSS is that conversion's alone) through
`converters.executorch.ExecuTorchConverter`, int8 calibrated on the 64 packaged-photo crops the
pipeline would use, without the drift check (the tests measure drift on the small model). For the
XNNPACK precisions it also times the .pte files in this machine's ExecuTorch runtime (median of
15 round-robin runs after 2 warm-ups). Prints a markdown table and writes benchmarks/results/convert_executorch.json.

    python benchmarks/bench_convert_executorch.py [--variant T] [--precisions fp32,int8,coreml-fp16]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "convert_executorch.json"
PRECISIONS = ("fp32", "int8", "coreml-fp16")


def latencies_ms(paths: dict[str, Path], image_size: int, threads: int, runs: int = 15) -> dict[str, float]:
    """Median latency of each .pte in this machine's ExecuTorch runtime, measured round-robin
    (2 warm-ups each) so that a change in machine load hits every artifact alike."""
    import numpy as np

    from mvedge.verify.runners.executorch import ExecuTorchRunner

    x = np.random.default_rng(0).standard_normal((1, 3, image_size, image_size)).astype(np.float32)
    runners = {name: ExecuTorchRunner(path, threads=threads) for name, path in paths.items()}
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for runner in runners.values():
        for _ in range(2):
            runner.run(x)
    for _ in range(runs):
        for name, runner in runners.items():
            start = time.perf_counter()
            runner.run(x)
            samples[name].append((time.perf_counter() - start) * 1e3)
    return {name: round(float(np.median(values)), 1) for name, values in samples.items()}


def run_one(variant: str, precision: str, out_dir: str, threads: int) -> dict:
    """Convert once (in this process) and report time, size, delegation and latency."""
    import warnings

    warnings.simplefilter("ignore")
    import torch

    from converters.base import ConvertOptions
    from converters.executorch import ExecuTorchConverter
    from mvedge.data.calibration import calibration_set
    from mvedge.model.bundle import load_bundle
    from mvedge.progress import Progress

    torch.manual_seed(0)
    torch.set_num_threads(threads)
    bundle = load_bundle(variant=variant)
    converter = ExecuTorchConverter()
    calibration = calibration_set(bundle) if precision in converter.calibrated else None
    options = ConvertOptions(precision, bundle.image_size, calibration=calibration)
    path = Path(out_dir) / f"{variant}-{precision}.pte"
    start = time.perf_counter()
    result = converter.convert(bundle, options, path, Progress(quiet=True))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = result.metadata["delegation"]
    row = {
        "precision": precision,
        "convert_seconds": round(seconds, 1),
        "peak_rss_mb": round(peak),
        "size_bytes": path.stat().st_size,
        "params": sum(p.numel() for p in bundle.model.parameters()),
        "calibration_images": 0 if calibration is None else len(calibration),
        "delegated_subgraphs": report["delegated_subgraphs"],
        "delegated_nodes": report["delegated_nodes"],
        "non_delegated_nodes": report["non_delegated_nodes"],
        "non_delegated_ops": report["non_delegated_ops"],
        "non_delegated_in_mixer": report["non_delegated_in_mixer"],
        "graph_changes": result.metadata.get("graph_changes"),
    }
    row["path"], row["image_size"], row["backend"] = str(path), bundle.image_size, report["backend"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default="T")
    parser.add_argument("--precisions", default=",".join(PRECISIONS))
    parser.add_argument("--threads", type=int, default=2, help="torch and ExecuTorch threads (default 2)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one precision in this process
    parser.add_argument("--out-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.variant, args.one, args.out_dir, args.threads)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for precision in args.precisions.split(","):
            proc = subprocess.run(
                [sys.executable, __file__, "--variant", args.variant, "--one", precision, "--out-dir", tmp, "--threads", str(args.threads)],
                capture_output=True, text=True, cwd=REPO,
            )
            if proc.returncode != 0:
                rows.append({"precision": precision, "error": (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]})
                print(f"{precision}: FAILED {rows[-1]['error']}", file=sys.stderr)
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"{precision}: {row}", file=sys.stderr)
        runnable = {r["precision"]: Path(r["path"]) for r in rows if r.get("backend") == "XnnpackBackend"}
        if runnable:
            size = next(r["image_size"] for r in rows if "image_size" in r)
            for precision, ms in latencies_ms(runnable, size, args.threads).items():
                next(r for r in rows if r["precision"] == precision)["latency_ms"] = ms
        for r in rows:
            r.pop("path", None)
    fp32 = next((r["size_bytes"] for r in rows if r["precision"] == "fp32" and "size_bytes" in r), None)
    load = os.getloadavg()[0]
    print(f"\nExecuTorch conversion, MambaVision-{args.variant} (random weights), {platform.machine()}, "
          f"{os.cpu_count()} cores, load average {load:.1f}\n")
    print("| precision | convert (s) | peak RSS (MB) | size (MB) | size vs fp32 | delegated / outside nodes | outside the delegate | latency here (ms) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['precision']} | failed: {r['error']} | | | | | | |")
            continue
        ratio = f"{r['size_bytes'] / fp32:.0%}" if fp32 else "-"
        outside = ", ".join(f"{op} x{n}" for op, n in r["non_delegated_ops"].items()) or "none"
        print(f"| {r['precision']} | {r['convert_seconds']} | {r['peak_rss_mb']} | {r['size_bytes'] / 1e6:.1f} | {ratio} | "
              f"{r['delegated_nodes']} / {r['non_delegated_nodes']} | {outside} | {r.get('latency_ms', 'n/a (Apple only)')} |")
    from mvedge.strict_json import write_atomic

    write_atomic(RESULTS, {"variant": args.variant, "machine": platform.machine(), "cores": os.cpu_count(),
                           "load_average": round(load, 1), "threads": args.threads, "results": rows}, indent=1, newline=False)
    print(f"\nwrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
