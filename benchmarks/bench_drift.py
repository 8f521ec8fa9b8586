#!/usr/bin/env python
"""The drift table: every target x precision against the float model, in each target's own runtime.

Models: the embedded digits model on all 360 held-out digits (labelled: accuracy next to the float
model's), and the T-shaped model (MambaVision-T's depths, heads and windows at width 16, seeded
random weights, 224 px) on crops of packaged photos. LiteRT runs twice, with the XNNPACK delegate
(as on phones) and with the builtin kernels. Core ML runs in mvedge's MIL interpreter (Linux);
ExecuTorch's coreml-fp16 .pte needs Apple hardware and is listed as not run.

    python benchmarks/bench_drift.py [--models digits,t-shaped] [--limit 360] [--photo-limit 16]
                                     [--only TARGET:PRECISION,...]

`--only` re-runs those pairs (every variant of them) and replaces their rows in drift.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "drift.json"
MATRIX = [  # (target, precision, ConvertOptions.extra)
    ("onnx", "fp32", {}), ("executorch", "fp32", {}), ("executorch", "int8", {}), ("executorch", "coreml-fp16", {}),
    ("tflite", "fp32", {}), ("tflite", "fp16", {}), ("tflite", "int8-dynamic", {}), ("tflite", "int8", {}),
    ("tflite", "int8", {"all_integer": True}),
    ("coreml", "fp32", {}), ("coreml", "fp16", {}), ("coreml", "w8", {}), ("coreml", "palette6", {}), ("coreml", "palette4", {}),
    ("coreml", "int8", {}),
]


def rows_for(name: str, bundle, images, labels, description: str, out: Path, only: set[str] | None = None) -> list[dict]:
    """Convert and check every target x precision of one model (only the `only` pairs when given)."""
    from converters.base import ConvertOptions
    from converters.pipeline import convert
    from mvedge.progress import Progress
    from mvedge.verify.check import verify_artifact
    from mvedge.verify.thresholds import failures

    rows = []
    for target, precision, extra in MATRIX:
        if only and f"{target}:{precision}" not in only:
            continue
        start = time.perf_counter()
        options = ConvertOptions(precision, bundle.image_size, extra=dict(extra))
        artifact = convert(bundle, target, precision, out / name, options, verify=False, force=True, progress=Progress(quiet=True))
        label = precision + "".join(f" --{key.replace('_', '-')}" for key in extra)
        runs = [("XNNPACK", {"xnnpack": True}), ("builtin", {"xnnpack": False})] if target == "tflite" else [("", {})]
        for runtime_note, options in runs:
            row = {"model": name, "images": description, "target": target, "precision": label,
                   "runtime": runtime_note or {"onnx": "onnxruntime", "executorch": "ExecuTorch XNNPACK", "coreml": "MIL interpreter"}[target],
                   "size_mb": round(artifact.size_bytes / 1e6, 2)}
            if precision == "coreml-fp16":
                row.update(runtime="Core ML delegate (Apple only)", status="built, not run: the Core ML delegate runs on Apple devices only")
                rows.append(row)
                continue
            if target == "tflite":
                row["runtime"] = f"LiteRT {runtime_note}"
            drift = verify_artifact(artifact.path, bundle, images, labels, **options)
            problems = failures(drift, precision)
            row.update(drift.to_dict(), status="pass" if not problems else "FAIL: " + "; ".join(problems))
            rows.append(row)
        print(f"{name} {target} {label}: {time.perf_counter() - start:.0f} s "
              + ", ".join(f"{r['runtime']} {r.get('psnr_db', float('nan')):.1f} dB" for r in rows[-len(runs):]), file=sys.stderr)
    return rows


def table(rows: list[dict]) -> str:
    """Markdown table of the rows."""
    lines = ["| model | target | precision | runtime | size MB | PSNR dB | cosine | max abs | top-1 agree | top-5 overlap | accuracy (float) | status |",
             "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if "psnr_db" not in r:
            lines.append(f"| {r['model']} | {r['target']} | {r['precision']} | {r['runtime']} | {r['size_mb']} | | | | | | | {r['status']} |")
            continue
        accuracy = f"{r['accuracy']:.4f} ({r['reference_accuracy']:.4f})" if r.get("accuracy") is not None else "-"
        lines.append(f"| {r['model']} | {r['target']} | {r['precision']} | {r['runtime']} | {r['size_mb']} | {r['psnr_db']:.1f} | "
                     f"{r['cosine']:.6f} | {r['max_abs']:.3g} | {r['top1_agreement']:.3f} | {r['top5_overlap']:.3f} | {accuracy} | {r['status']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="digits,t-shaped")
    parser.add_argument("--limit", type=int, default=360, help="held-out digits to use (default: all 360)")
    parser.add_argument("--photo-limit", type=int, default=16, help="photo crops for the T-shaped model (default 16)")
    parser.add_argument("--only", help="comma-separated TARGET:PRECISION pairs to re-run; their rows replace those in drift.json")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    warnings.simplefilter("ignore")
    sys.path.insert(0, str(REPO))
    from mvedge.model.bundle import load_bundle
    from mvedge.verify.data import verification_set
    from mvedge import strict_json
    from mvedge.verify.reference import t_shaped_bundle

    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            bundle = load_bundle() if name == "digits" else t_shaped_bundle(tmp)
            images, labels, description = verification_set(bundle, limit=args.limit if name == "digits" else args.photo_limit)
            rows += rows_for(name, bundle, images, labels, description, Path(tmp), only)
    load = os.getloadavg()[0]
    if only and RESULTS.exists():  # keep the other rows of the earlier run, in MATRIX order
        earlier = [r for r in strict_json.loads(RESULTS.read_text())["rows"] if f"{r['target']}:{r['precision'].split(' ')[0]}" not in only]
        for row in rows:
            row["rerun"] = True
        order = {(t, p + "".join(f" --{k.replace('_', '-')}" for k in e)): i for i, (t, p, e) in enumerate(MATRIX)}
        models = args.models.split(",")
        rows = sorted(earlier + rows, key=lambda r: (models.index(r["model"]) if r["model"] in models else 9, order.get((r["target"], r["precision"]), 99)))
    print(f"\nDrift against the float model, {platform.machine()}, {os.cpu_count()} cores, load average {load:.1f}\n")
    print(table(rows))
    strict_json.write_atomic(RESULTS, {"machine": platform.machine(), "cores": os.cpu_count(), "load_average": round(load, 1), "rows": rows}, indent=1, newline=False)
    print(f"\nwrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
