#!/usr/bin/env python
"""Drift per input size of multi-size artifacts: the embedded digits model converted with
--image-size 128,96x128 (ExecuTorch fp32: one method per size; LiteRT fp32: one signature per size)
and, for the targets that take one size per artifact (onnx fp32, coreml fp16), one artifact per
size; each checked in its own runtime on the held-out digits at that size against the float model.

    python benchmarks/bench_sizes.py [--sizes 128,96x128] [--limit 360] [--targets executorch,tflite,onnx,coreml]

Writes benchmarks/results/sizes.json and prints the markdown table of BENCHMARKS.md.
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
MULTI = {"executorch": "fp32", "tflite": "fp32"}  # one artifact for every size
SINGLE = {"onnx": "fp32", "coreml": "fp16"}  # one artifact per size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="128,96x128")
    parser.add_argument("--limit", type=int, default=360)
    parser.add_argument("--targets", default="executorch,tflite,onnx,coreml")
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
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for target in args.targets.split(","):
            if target in MULTI:
                start = time.perf_counter()
                artifact = convert(bundle, target, MULTI[target], Path(work) / target, images=images, progress=Progress(quiet=True))
                per_size = artifact.drift.sizes
                methods = artifact.sidecar.input.methods
                rows += [{"target": target, "precision": MULTI[target], "artifact": f"one ({sizes_tag(sizes)})", "size": size_tag(s),
                          "method": m, **_numbers(per_size[size_tag(s)]), "convert_seconds": round(time.perf_counter() - start, 1)}
                         for s, m in zip(sizes, methods)]
            else:
                for size in sizes:
                    at = load_bundle(image_size=f"{size[0]}x{size[1]}")
                    start = time.perf_counter()
                    artifact = convert(at, target, SINGLE[target], Path(work) / f"{target}-{size_tag(size)}", images=images[size], progress=Progress(quiet=True))
                    rows.append({"target": target, "precision": SINGLE[target], "artifact": "one per size", "size": size_tag(size),
                                 "method": "-", **_numbers(artifact.drift.to_dict()), "convert_seconds": round(time.perf_counter() - start, 1)})
            print(json.dumps(rows[-1]), flush=True)
    result = {"command": "python benchmarks/bench_sizes.py " + " ".join(sys.argv[1:]), "machine": platform.processor() or platform.machine(),
              "images": f"{args.limit} held-out digits", "rows": rows}
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print("| target | precision | artifact | size | method / signature | PSNR dB | cosine | top-1 agreement | accuracy (float) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['target']} | {r['precision']} | {r['artifact']} | {r['size']} | {r['method']} | {r['psnr_db']:.1f} | {r['cosine']:.7f} | "
              f"{r['top1_agreement']:.3f} | {r['accuracy']:.3f} ({r['reference_accuracy']:.3f}) |")


def _numbers(drift: dict) -> dict:
    return {k: drift[k] for k in ("psnr_db", "cosine", "max_abs", "top1_agreement", "accuracy", "reference_accuracy", "samples")}


if __name__ == "__main__":
    main()
