#!/usr/bin/env python
"""Drift of multi-output artifacts: the embedded digits model exported with `--outputs stages`
(all four stage maps) at every precision of every target, each output against PyTorch's.

    python benchmarks/bench_outputs_drift.py [--limit 64] [--stages 0,1,2,3]

Each artifact is converted through the pipeline and run in its own runtime (onnxruntime,
ExecuTorch's XNNPACK runtime, LiteRT with XNNPACK, mvedge's MIL interpreter for Core ML) on the
held-out digits; the worst output decides pass or fail, as in `mvedge convert`. Results go to
benchmarks/results/outputs_drift.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "outputs_drift.json"
MATRIX = [  # (target, precision)
    ("onnx", "fp32"), ("executorch", "fp32"), ("executorch", "int8"),
    ("tflite", "fp32"), ("tflite", "fp16"), ("tflite", "int8-dynamic"), ("tflite", "int8"),
    ("coreml", "fp32"), ("coreml", "fp16"), ("coreml", "int8"),
]


def measure(bundle, images, out: Path) -> list[dict]:
    """Convert and check every target x precision; one row per artifact with each output's drift."""
    from converters.base import ConvertOptions
    from converters.pipeline import convert
    from mvedge.progress import Progress
    from mvedge.verify.check import verify_artifact
    from mvedge.verify.thresholds import failures

    rows = []
    for target, precision in MATRIX:
        start = time.perf_counter()
        options = ConvertOptions(precision, bundle.image_size, extra={"tensor_input": True} if target == "coreml" else {})
        artifact = convert(bundle, target, precision, out, options, verify=False, force=True, progress=Progress(quiet=True))
        drift = verify_artifact(artifact.path, bundle, images, None)
        problems = failures(drift, precision)
        rows.append({
            "target": target, "precision": precision, "size_mb": round(artifact.size_bytes / 1e6, 2),
            "outputs": {name: {"psnr_db": d["psnr_db"], "cosine": d["cosine"]} for name, d in drift.outputs.items()},
            "worst_psnr_db": drift.psnr_db, "status": "pass" if not problems else "FAIL: " + "; ".join(problems),
        })
        print(f"{target} {precision}: {time.perf_counter() - start:.0f} s, worst {drift.psnr_db:.1f} dB", file=sys.stderr)
    return rows


def table(rows: list[dict], names: list[str]) -> str:
    """Markdown table: PSNR per output, the worst, and the status."""
    lines = ["| target | precision | size MB | " + " | ".join(f"{n} PSNR dB" for n in names) + " | status |",
             "|---|---|---:|" + "---:|" * len(names) + "---|"]
    for r in rows:
        cells = " | ".join(f"{r['outputs'][n]['psnr_db']:.1f}" for n in names)
        lines.append(f"| {r['target']} | {r['precision']} | {r['size_mb']} | {cells} | {r['status']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=64, help="held-out digits to use (default 64)")
    parser.add_argument("--stages", default="0,1,2,3", help="stage maps to export (default: all four)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    sys.path.insert(0, str(REPO))
    from mvedge import strict_json
    from mvedge.model.bundle import load_bundle
    from mvedge.model.outputs import parse_outputs
    from mvedge.verify.data import verification_set

    choice = parse_outputs("stages", args.stages)
    bundle = dataclasses.replace(load_bundle(), outputs=choice)
    images, _, description = verification_set(bundle, limit=args.limit)
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(bundle, images, Path(tmp))
    load = os.getloadavg()[0]
    print(f"\nDigits model, --outputs stages --stages {args.stages}, on {description}; {platform.machine()}, load average {load:.1f}\n")
    print(table(rows, choice.names))
    strict_json.write_atomic(RESULTS, {"machine": platform.machine(), "images": description, "stages": args.stages,
                                       "load_average": round(load, 1), "rows": rows}, indent=1, newline=False)
    print(f"\nwrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
