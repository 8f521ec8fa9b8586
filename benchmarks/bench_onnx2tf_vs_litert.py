#!/usr/bin/env python
"""TFLite routes side by side: litert-torch vs onnx2tf 2.x (side environment), fp32 and fp16.

For each model: conversion time (torch to the finished .tflite, without the drift check), size, PSNR and top-1 agreement against the float model (the
pipeline's drift check), then LiteRT latency (XNNPACK, `--threads`) of every artifact measured in
interleaved rounds in one process (median over rounds), so the routes share the machine's load.
The onnx2tf side environment is made beforehand (its install time is not in the conversion time).
Writes benchmarks/results/onnx2tf_vs_litert.json and prints a markdown table.

    python benchmarks/bench_onnx2tf_vs_litert.py [--models embedded,T] [--limit 16] [--rounds 15]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from converters import onnx2tf_env  # noqa: E402
from converters.base import ConvertOptions  # noqa: E402
from converters.pipeline import convert  # noqa: E402
from mvedge.model.bundle import load_bundle  # noqa: E402
from mvedge.progress import Progress  # noqa: E402
from mvedge.verify.data import verification_set  # noqa: E402
from mvedge.verify.runners.litert import LiteRTRunner  # noqa: E402

ROUTES = ("litert-torch", "onnx2tf")
PRECISIONS = ("fp32", "fp16")


def _bundle(model: str):
    return load_bundle() if model == "embedded" else load_bundle(variant=model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="embedded,T", help="embedded (digits) and/or official variants (random weights)")
    parser.add_argument("--limit", type=int, default=16, help="drift images per artifact")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved latency rounds")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    onnx2tf_env.ensure_environment(Progress("onnx2tf environment"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            bundle = _bundle(model)
            images = verification_set(bundle, limit=args.limit)
            for route in ROUTES:
                for precision in PRECISIONS:
                    options = ConvertOptions(precision, bundle.image_size, extra={"via": route})
                    start = time.perf_counter()
                    artifact = convert(bundle, "tflite", precision, Path(tmp) / f"{model}-{route}-{precision}", options,
                                       images=images, progress=Progress(quiet=True))
                    rows.append({
                        "model": bundle.name, "size_px": bundle.image_size, "random_weights": bundle.random_weights,
                        "route": route, "precision": precision, "convert_s": round(artifact.convert_seconds, 1),
                        "with_drift_check_s": round(time.perf_counter() - start, 1),
                        "size_mb": round(artifact.size_bytes / 1e6, 2), "psnr_db": round(artifact.drift.psnr_db, 1),
                        "top1_agreement": artifact.drift.top1_agreement, "path": str(artifact.path),
                    })
                    print(f"converted {model} {route} {precision}", file=sys.stderr, flush=True)
        runners = [LiteRTRunner(Path(row["path"]), threads=args.threads) for row in rows]
        inputs = []
        for runner in runners:
            shape = runner.sidecar.input.shape
            inputs.append(np.random.default_rng(0).standard_normal((shape[0], 3, shape[2], shape[2])).astype(np.float32))
        for runner, x in zip(runners, inputs):
            runner.run(x), runner.run(x)  # warm-up
        times: list[list[float]] = [[] for _ in runners]
        for _ in range(args.rounds):
            for i, (runner, x) in enumerate(zip(runners, inputs)):
                start = time.perf_counter()
                runner.run(x)
                times[i].append((time.perf_counter() - start) * 1e3)
    for row, measured in zip(rows, times):
        row["latency_ms"] = round(float(np.median(measured)), 2)
        del row["path"]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), platform.processor())
    result = {"cpu": cpu, "threads": args.threads, "rounds": args.rounds, "drift_images": args.limit, "rows": rows}
    out = REPO / "benchmarks" / "results" / "onnx2tf_vs_litert.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{cpu}, {args.threads} threads, {args.rounds} interleaved rounds, drift on {args.limit} images")
    print("| model | route | precision | convert s | size MB | PSNR dB | top-1 agree | latency ms |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for row in rows:
        model = f"{row['model']}-{row['size_px']}" + (" (random)" if row["random_weights"] else "")
        print(f"| {model} | {row['route']} | {row['precision']} | {row['convert_s']} | {row['size_mb']} | "
              f"{row['psnr_db']} | {row['top1_agreement']:.3f} | {row['latency_ms']} |")


if __name__ == "__main__":
    main()
