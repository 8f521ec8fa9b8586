#!/usr/bin/env python
"""Conversion time, peak memory and size of any target through the pipeline, one precision per subprocess.

The target-specific scripts (bench_convert_executorch/coreml/tflite.py) add what only their
target has (delegation reports, op counts, latency); this one is the common denominator and is
what the ONNX row of BENCHMARKS.md §3 comes from. Default: MambaVision-T at 224 with random
weights (time and size do not depend on them), without the drift check; `--model embedded --verify`
adds drift on the held-out digits. Writes benchmarks/results/convert_<target>[_<model>].json.

    python benchmarks/bench_convert.py --target onnx [--model T] [--precisions fp32] [--verify]
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
RESULTS = REPO / "benchmarks" / "results"


def run_one(target: str, model: str, precision: str, out_dir: str, verify: bool) -> dict:
    """Convert once in this process: seconds, peak RSS, size, and the drift when verified."""
    import warnings

    warnings.simplefilter("ignore")
    from converters.pipeline import convert
    from mvedge.model.bundle import load_bundle
    from mvedge.progress import Progress

    bundle = load_bundle() if model == "embedded" else load_bundle(variant=model)
    start = time.perf_counter()
    artifact = convert(bundle, target, precision, out_dir, force=True, verify=verify, progress=Progress(quiet=True))
    total = time.perf_counter() - start
    return {
        "precision": precision,
        "convert_seconds": round(artifact.convert_seconds, 1),
        "convert_and_verify_seconds": round(total, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "size_bytes": artifact.size_bytes,
        "params": sum(p.numel() for p in bundle.model.parameters()),
        "drift": artifact.drift.to_dict() if artifact.drift else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", required=True, choices=["onnx", "executorch", "coreml", "tflite"])
    parser.add_argument("--model", default="T", help="official variant name (random weights) or 'embedded'")
    parser.add_argument("--precisions", default="fp32")
    parser.add_argument("--verify", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--out-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.target, args.model, args.one, args.out_dir, args.verify)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for precision in args.precisions.split(","):
            command = [sys.executable, __file__, "--target", args.target, "--model", args.model, "--one", precision, "--out-dir", tmp]
            proc = subprocess.run(command + (["--verify"] if args.verify else []), capture_output=True, text=True, cwd=REPO)
            if proc.returncode != 0:
                rows.append({"precision": precision, "error": (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]})
            else:
                rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"{precision}: {rows[-1]}", file=sys.stderr)
    load = os.getloadavg()[0]
    print(f"\n{args.target} conversion, {args.model}, {platform.machine()}, {os.cpu_count()} cores, load average {load:.1f}\n")
    print("| precision | convert s | peak RSS MB | size MB | PSNR dB |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        if "error" in r:
            print(f"| {r['precision']} | failed: {r['error']} | | | |")
            continue
        psnr = f"{r['drift']['psnr_db']:.1f}" if r["drift"] else "-"
        print(f"| {r['precision']} | {r['convert_seconds']} | {r['peak_rss_mb']} | {r['size_bytes'] / 1e6:.1f} | {psnr} |")
    suffix = "" if args.model == "T" else f"_{args.model}"
    out = RESULTS / f"convert_{args.target}{suffix}.json"
    from mvedge.strict_json import write_atomic

    write_atomic(out, {"target": args.target, "model": args.model, "verify": args.verify, "machine": platform.machine(),
                       "cores": os.cpu_count(), "load_average": round(load, 1), "results": rows}, indent=1, newline=False)
    print(f"\nwrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
