#!/usr/bin/env python
"""Drift per input size of multi-size artifacts, and what the symbolic ONNX graph costs: the
embedded digits model converted with --image-size 128,96x128 to one artifact per target (ExecuTorch
fp32: one method per size; LiteRT fp32: one signature per size; ONNX fp32: symbolic height and
width; Core ML fp16: enumerated image shapes), each checked in its own runtime on the held-out
digits at every size against the float model; then ONNX Runtime latency of the symbolic-size model
against a one-size model at the first size, interleaved rounds in one run.

    python benchmarks/bench_sizes.py [--sizes 128,96x128] [--limit 360] [--targets executorch,tflite,onnx,coreml] [--rounds 40]
        [--latency-variant T --latency-sizes 224,256x320]

Writes benchmarks/results/sizes.json and prints the markdown tables of BENCHMARKS.md.
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results" / "sizes.json"
PRECISION = {"executorch": "fp32", "tflite": "fp32", "onnx": "fp32", "coreml": "fp16"}
KIND = {"executorch": "method", "tflite": "signature", "onnx": "symbolic height, width", "coreml": "enumerated shapes"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="128,96x128")
    parser.add_argument("--limit", type=int, default=360)
    parser.add_argument("--targets", default="executorch,tflite,onnx,coreml")
    parser.add_argument("--rounds", type=int, default=40, help="ONNX Runtime latency rounds (0: skip)")
    parser.add_argument("--latency-variant", help="time this variant (random weights) instead of the digits model")
    parser.add_argument("--latency-sizes", default="224,256x320", help="its sizes (the first is timed)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from converters.pipeline import convert
    from mvedge.model.bundle import load_bundle
    from mvedge.model.sizes import parse_sizes, size_tag, sizes_tag
    from mvedge.progress import Progress
    from mvedge.verify.data import verification_set

    sizes = parse_sizes(args.sizes)
    bundle = load_bundle(image_size=args.sizes)
    images = {size: verification_set(bundle.at_size(size), limit=args.limit) for size in sizes}
    rows, latency = [], None
    with tempfile.TemporaryDirectory() as work:
        for target in args.targets.split(","):
            start = time.perf_counter()
            artifact = convert(bundle, target, PRECISION[target], Path(work) / target, images=images, progress=Progress(quiet=True))
            seconds = round(time.perf_counter() - start, 1)
            methods = artifact.sidecar.input.methods or ["-"] * len(sizes)
            rows += [{"target": target, "precision": PRECISION[target], "artifact": f"one ({sizes_tag(sizes)})", "kind": KIND[target],
                      "size": size_tag(s), "method": m, **_numbers(artifact.drift.sizes[size_tag(s)]), "convert_seconds": seconds}
                     for s, m in zip(sizes, methods)]
            print(json.dumps(rows[-1]), flush=True)
            if target == "onnx" and args.rounds:
                latency = _onnx_models_latency(args, artifact.path, sizes, images, Path(work))
                print(json.dumps(latency), flush=True)
    result = {"command": "python benchmarks/bench_sizes.py " + " ".join(sys.argv[1:]), "machine": platform.processor() or platform.machine(),
              "images": f"{args.limit} held-out digits", "rows": rows, "onnx_latency": latency}
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print("| target | precision | artifact | sizes as | size | method / signature | PSNR dB | cosine | top-1 agreement | accuracy (float) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['target']} | {r['precision']} | {r['artifact']} | {r['kind']} | {r['size']} | {r['method']} | {r['psnr_db']:.1f} | "
              f"{r['cosine']:.7f} | {r['top1_agreement']:.3f} | {r['accuracy']:.3f} ({r['reference_accuracy']:.3f}) |")
    if latency:
        print(f"\nONNX Runtime, {latency['model']} at {latency['size']}, batch 1, {latency['rounds']} interleaved rounds: one-size median "
              f"{latency['one_size']['median_ms']:.2f} ms, symbolic-size median {latency['symbolic_size']['median_ms']:.2f} ms, "
              f"ratio {latency['ratio_symbolic_to_one']:.2f}")


def _onnx_models_latency(args: argparse.Namespace, symbolic: Path, sizes: list, images: dict, work: Path) -> dict:
    """ONNX Runtime latency of a symbolic-size model against a one-size model at the first size:
    the digits models, or --latency-variant (random weights) at --latency-sizes."""
    from converters.pipeline import convert
    from mvedge.model.bundle import load_bundle
    from mvedge.model.sizes import parse_sizes
    from mvedge.progress import Progress

    given = None
    if args.latency_variant:
        sizes = parse_sizes(args.latency_sizes)
        several = load_bundle(variant=args.latency_variant, image_size=args.latency_sizes)
        symbolic = convert(several, "onnx", "fp32", work / "onnx-several", progress=Progress(quiet=True)).path
    else:
        given = images[sizes[0]]
    one = load_bundle(variant=args.latency_variant, image_size=f"{sizes[0][0]}x{sizes[0][1]}")
    single = convert(one, "onnx", "fp32", work / "onnx-one", images=given, progress=Progress(quiet=True)).path
    return {"model": args.latency_variant or "digits", **_onnx_latency(symbolic, single, sizes[0], args.rounds)}


def _onnx_latency(symbolic: Path, one_size: Path, size: tuple[int, int], rounds: int) -> dict:
    """Median ONNX Runtime latency of the symbolic-size model and a one-size model at `size`,
    batch 1, in interleaved rounds (benchmarks/timing.py)."""
    import numpy as np
    import onnxruntime

    from timing import interleaved, loadavg, summarize  # benchmarks/timing.py, beside this file

    x = np.random.default_rng(0).random((1, 3, *size), dtype=np.float32)
    sessions = {name: onnxruntime.InferenceSession(str(path)) for name, path in (("one_size", one_size), ("symbolic_size", symbolic))}
    times, _ = interleaved({name: (lambda s=s: s.run(None, {"image": x})) for name, s in sessions.items()}, warmup=5, rounds=rounds)
    summary = {name: summarize(t) for name, t in times.items()}
    return {"size": f"{size[0]}x{size[1]}", "rounds": rounds, "loadavg_after": loadavg(), **summary,
            "ratio_symbolic_to_one": summary["symbolic_size"]["median_ms"] / summary["one_size"]["median_ms"]}


def _numbers(drift: dict) -> dict:
    return {k: drift[k] for k in ("psnr_db", "cosine", "max_abs", "top1_agreement", "accuracy", "reference_accuracy", "samples")}


if __name__ == "__main__":
    main()
