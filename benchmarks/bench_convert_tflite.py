#!/usr/bin/env python
"""TFLite / LiteRT conversion per precision: time, peak memory, artifact size, ops, latency, drift.

Each precision converts in its own subprocess (so the peak RSS is that conversion's alone)
through the pipeline (`converters.pipeline.convert`); int8 is calibrated on the 64 images the
pipeline would use. Default: MambaVision-T at 224 with random weights, without the drift check;
`--model embedded` (the digits model) with `--verify` adds the drift against the float model.
Latency: median of 10 runs after 2 warm-ups in ai-edge-litert with XNNPACK (`--threads`).
Prints a markdown table and writes benchmarks/results/convert_tflite[_<model>][_<options>].json.

    python benchmarks/bench_convert_tflite.py [--model T] [--precisions fp32,fp16,int8-dynamic,int8] [--verify] [--extra JSON]
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
PRECISIONS = ("fp32", "fp16", "int8-dynamic", "int8")


def _latency_ms(path: Path, threads: int) -> float:
    """Median wall time of one inference in ai-edge-litert with the XNNPACK delegate."""
    import numpy as np

    from mvedge.verify.runners.litert import LiteRTRunner

    runner = LiteRTRunner(path, threads=threads)
    shape = runner.sidecar.input.shape
    batch, channels, size = shape[0], 3, shape[2]
    x = np.random.default_rng(0).standard_normal((batch, channels, size, size)).astype(np.float32)
    for _ in range(2):
        runner.run(x)
    times = []
    for _ in range(10):
        start = time.perf_counter()
        runner.run(x)
        times.append((time.perf_counter() - start) * 1e3)
    return round(sorted(times)[len(times) // 2], 1)


def run_one(model: str, precision: str, out_dir: str, extra: str, verify: bool, threads: int) -> dict:
    """Convert once (in this process) and report time, size, peak RSS, ops, latency and drift."""
    import warnings

    warnings.simplefilter("ignore")
    from converters.base import ConvertOptions
    from converters.pipeline import convert
    from mvedge.model.bundle import load_bundle
    from mvedge.progress import Progress

    bundle = load_bundle() if model == "embedded" else load_bundle(variant=model)
    options = ConvertOptions(precision, bundle.image_size, extra=json.loads(extra))
    start = time.perf_counter()
    artifact = convert(bundle, "tflite", precision, Path(out_dir) / precision, options=options, verify=verify, progress=Progress(quiet=True))
    total = time.perf_counter() - start
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # onnx2tf, the XNNPACK probe
    conversion = artifact.sidecar.conversion
    return {
        "precision": precision,
        "convert_seconds": round(artifact.convert_seconds, 1),
        "convert_and_verify_seconds": round(total, 1),
        "size_bytes": artifact.size_bytes,
        "peak_rss_mb": round(max(peak_self, peak_children)),
        "params": sum(p.numel() for p in bundle.model.parameters()),
        "route": conversion.get("route"),
        "recipe": conversion.get("recipe"),
        "op_count": conversion.get("op_count"),
        "ops": conversion.get("ops"),
        "flex_ops": conversion.get("flex_ops"),
        "tensor_types": conversion.get("tensor_types"),
        "xnnpack_partitions": (conversion.get("xnnpack") or {}).get("partitions"),
        "latency_ms": _latency_ms(artifact.path, threads),
        "threads": threads,
        "drift": artifact.drift.to_dict() if artifact.drift else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="T", help="a variant (T, S, ...: random weights) or 'embedded'")
    parser.add_argument("--precisions", default=",".join(PRECISIONS))
    parser.add_argument("--verify", action="store_true", help="also check drift (ai-edge-litert)")
    parser.add_argument("--extra", default="{}", help='JSON of ConvertOptions.extra, e.g. \'{"via": "onnx2tf"}\'')
    parser.add_argument("--threads", type=int, default=2, help="interpreter threads for the latency column")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one precision in this process
    parser.add_argument("--out-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.model, args.one, args.out_dir, args.extra, args.verify, args.threads)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for precision in args.precisions.split(","):
            command = [sys.executable, __file__, "--model", args.model, "--one", precision, "--out-dir", tmp, "--extra", args.extra]
            command += ["--threads", str(args.threads)] + (["--verify"] if args.verify else [])
            proc = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
            if proc.returncode != 0:
                rows.append({"precision": precision, "error": (proc.stderr.strip().splitlines() or ["?"])[-1]})
                print(f"{precision}: FAILED {rows[-1]['error']}", file=sys.stderr)
                continue
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"{precision}: {rows[-1]['convert_seconds']} s, {rows[-1]['size_bytes']} bytes", file=sys.stderr)
    fp32 = next((r["size_bytes"] for r in rows if r["precision"] == "fp32" and "size_bytes" in r), None)
    print(f"\nTFLite conversion, model {args.model}, options {args.extra}, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}\n")
    print("| precision | convert (s) | peak RSS (MB) | size (MB) | size vs fp32 | ops | XNNPACK partitions | latency (ms) | max abs | cosine | PSNR (dB) | top-1 agree |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['precision']} | failed: {r['error']} ||||||||||")
            continue
        ratio = f"{r['size_bytes'] / fp32:.0%}" if fp32 else "-"
        d = r.get("drift")
        drift = f"{d['max_abs']:.2e} | {d['cosine']:.6f} | {d['psnr_db']:.1f} | {d['top1_agreement']:.3f}" if d else "- | - | - | -"
        print(
            f"| {r['precision']} | {r['convert_seconds']} | {r['peak_rss_mb']} | {r['size_bytes'] / 1e6:.2f} | {ratio} | {r['op_count']} "
            f"| {r['xnnpack_partitions']} | {r['latency_ms']} | {drift} |"
        )
    extra = json.loads(args.extra)
    suffix = ("" if args.model == "T" else f"_{args.model}") + "".join(f"_{k}-{v}" for k, v in sorted(extra.items()))
    if args.precisions != ",".join(PRECISIONS):  # a subset: its own file, the full run's stays
        suffix += "_" + args.precisions.replace(",", "-")
    path = RESULTS / f"convert_tflite{suffix}.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    record = {"model": args.model, "extra": extra, "verify": args.verify, "machine": platform.machine(), "cores": os.cpu_count(), "load_average": load, "results": rows}
    from mvedge.strict_json import write_atomic

    write_atomic(path, record, indent=1, newline=False)
    print(f"\nwrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
