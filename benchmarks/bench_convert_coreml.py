#!/usr/bin/env python
"""CoreML conversion per precision: time, peak memory, artifact size, and (with --verify) drift.

Each precision converts in its own subprocess (so the peak RSS is that conversion's alone)
through the pipeline (`converters.pipeline.convert`) with the default options (image input,
iOS17) unless --extra says otherwise. Default: MambaVision-T at 224 with random weights, without
the drift check. `--model embedded` (the digits model) or `--model small` (the 64x64 random test
model) with `--verify` adds the drift against the float model, checked in the MIL interpreter.
Prints a markdown table and writes benchmarks/results/convert_coreml[_<model>][_<options>][_verified].json.

    python benchmarks/bench_convert_coreml.py [--model T] [--precisions fp32,fp16,w8,palette6,palette4] [--verify] [--extra JSON]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
PRECISIONS = ("fp32", "fp16", "w8", "palette6", "palette4")


def _bundle(model: str):
    import torch

    from mvedge.model.bundle import ModelBundle, load_bundle
    from mvedge.model.preprocessing import Preprocessing

    torch.manual_seed(0)
    if model == "embedded":
        return load_bundle()
    if model == "small":  # the converter tests' model: random weights, non-trivial BN statistics
        from mvedge.verify.reference import SMALL, seeded_model

        net = seeded_model(SMALL)
        return ModelBundle(net, "small", dict(net.config), Preprocessing(input_size=64), None, "checkpoint")
    return load_bundle(variant=model)


def run_one(model: str, precision: str, out_dir: str, extra: str, verify: bool) -> dict:
    """Convert once (in this process) and report time, size, peak RSS and drift."""
    import warnings

    warnings.simplefilter("ignore")
    from converters.base import ConvertOptions
    from converters.pipeline import convert
    from mvedge.progress import Progress

    bundle = _bundle(model)
    options = ConvertOptions(precision, bundle.image_size, extra=json.loads(extra))
    start = time.perf_counter()
    artifact = convert(bundle, "coreml", precision, Path(out_dir) / precision, options=options, verify=verify, progress=Progress(quiet=True))
    total = time.perf_counter() - start
    drift = artifact.drift.to_dict() if artifact.drift else None
    return {
        "precision": precision,
        "convert_seconds": round(artifact.convert_seconds, 1),
        "convert_and_verify_seconds": round(total, 1),
        "size_bytes": artifact.size_bytes,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),  # this process, whole run
        "compression": artifact.sidecar.conversion.get("compression"),
        "scan_ops_kept_fp32": artifact.sidecar.conversion.get("scan_ops_kept_fp32"),
        "params": sum(p.numel() for p in bundle.model.parameters()),
        "drift": drift,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="T", help="a variant (T, S, ...: random weights), 'embedded' or 'small'")
    parser.add_argument("--precisions", default=",".join(PRECISIONS))
    parser.add_argument("--verify", action="store_true", help="also check drift (MIL interpreter)")
    parser.add_argument("--extra", default="{}", help="JSON of ConvertOptions.extra, e.g. '{\"scan_fp32\": true}'")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one precision in this process
    parser.add_argument("--out-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.model, args.one, args.out_dir, args.extra, args.verify)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for precision in args.precisions.split(","):
            command = [sys.executable, __file__, "--model", args.model, "--one", precision, "--out-dir", tmp, "--extra", args.extra]
            proc = subprocess.run(command + (["--verify"] if args.verify else []), capture_output=True, text=True, cwd=REPO)
            if proc.returncode != 0:
                rows.append({"precision": precision, "error": (proc.stderr.strip().splitlines() or ["?"])[-1]})
                print(f"{precision}: FAILED {rows[-1]['error']}", file=sys.stderr)
                continue
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"{precision}: {rows[-1]}", file=sys.stderr)
    fp32 = next((r["size_bytes"] for r in rows if r["precision"] == "fp32" and "size_bytes" in r), None)
    print(f"\nCoreML conversion, model {args.model}, options {args.extra}, {platform.machine()}, Python {platform.python_version()}\n")
    print("| precision | convert (s) | peak RSS (MB) | size (MB) | size vs fp32 | compressed tensors | max abs | cosine | PSNR (dB) | top-1 agree |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['precision']} | failed: {r['error']} |||||||||")
            continue
        ratio = f"{r['size_bytes'] / fp32:.0%}" if fp32 else "-"
        tensors = (r.get("compression") or {}).get("compressed_tensors", "-")
        d = r.get("drift")
        drift = f"{d['max_abs']:.2e} | {d['cosine']:.6f} | {d['psnr_db']:.1f} | {d['top1_agreement']:.3f}" if d else "- | - | - | -"
        print(f"| {r['precision']} | {r['convert_seconds']} | {r['peak_rss_mb']} | {r['size_bytes'] / 1e6:.2f} | {ratio} | {tensors} | {drift} |")
    parts = ([] if args.model == "T" else [args.model]) + sorted(json.loads(args.extra)) + (["verified"] if args.verify else [])
    name = "_".join(["convert_coreml", *parts]) + ".json"
    from mvedge.strict_json import write_atomic

    write_atomic(RESULTS / name, {"model": args.model, "extra": json.loads(args.extra), "verify": args.verify, "machine": platform.machine(), "results": rows}, indent=1, newline=False)
    print(f"\nwrote {(RESULTS / name).relative_to(REPO)}")


if __name__ == "__main__":
    main()
