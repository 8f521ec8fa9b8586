#!/usr/bin/env python
"""ARM64 against x86: every LiteRT, onnxruntime and ExecuTorch artifact run on emulated ARM64 kernels (qemu
-cpu max, as `mvedge verify --arch arm64` does) and on this machine's x86 kernels, each compared
with the float model, and the two runs with each other.

Models: the embedded digits model on held-out digits, and the T-shaped model (MambaVision-T's
depths, heads and windows at width 16, seeded random weights, 224 px) on photo crops. The time is
the emulation's (to size CI), never a phone's latency.

    python benchmarks/bench_arm64.py [--models digits,t-shaped] [--targets tflite,onnx,executorch] [--limit 100] [--photo-limit 8]

With fewer --models or --targets, the rows of the others in arm64.json are kept. The apps' contract tolerances
(mvedge/apps/tolerances.json) are then derived from the results by arm64_tolerances.py.
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

import arm64_tolerances

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "arm64.json"
MATRIX = [  # (target, precision, ConvertOptions.extra)
    ("tflite", "fp32", {}), ("tflite", "fp16", {}), ("tflite", "int8-dynamic", {}), ("tflite", "int8", {}),
    ("tflite", "int8", {"all_integer": True}), ("onnx", "fp32", {}), ("executorch", "fp32", {}), ("executorch", "int8", {}),
]


def rows_for(name: str, bundle, images, labels, description: str, out: Path, targets: tuple[str, ...] = ("tflite", "onnx", "executorch")) -> list[dict]:
    """Convert each pair, run it on x86 and on emulated ARM64, and compare."""
    from converters.base import ConvertOptions
    from converters.pipeline import convert
    from mvedge.progress import Progress
    from mvedge.verify.check import float_reference
    from mvedge.verify.data import as_the_app_feeds
    from mvedge.verify.metrics import compare
    from mvedge.verify.runners import RuntimeUnavailable, open_runner

    reference = float_reference(bundle, images)
    rows = []
    for target, precision, extra in (pair for pair in MATRIX if pair[0] in targets):
        label = precision + "".join(f" --{key.replace('_', '-')}" for key in extra)
        row = {"model": name, "images": description, "target": target, "precision": label}
        options = ConvertOptions(precision, bundle.image_size, extra=dict(extra))
        artifact = convert(bundle, target, precision, out / name, options, verify=False, force=True, progress=Progress(quiet=True))
        try:
            arm_runner = open_runner(artifact.path, arch="arm64")
        except RuntimeUnavailable as exc:
            row["status"] = f"not run: {exc}"
            rows.append(row)
            print(f"{name} {target} {label}: not run", file=sys.stderr)
            continue
        feed = as_the_app_feeds(images, bundle.preprocessing.to_dict(), arm_runner.sidecar.preprocessing)
        x86 = open_runner(artifact.path).run_all(feed)
        arm = arm_runner.run_all(feed)
        facts = arm_runner.describe()
        on_x86, on_arm, arm_vs_x86 = compare(reference, x86, labels), compare(reference, arm, labels), compare(x86, arm, None)
        row.update(
            arm_vs_x86_logits_rel=arm64_tolerances.max_relative(arm, x86), arm_vs_x86_score_abs=arm64_tolerances.max_score_diff(arm, x86),
            arm_vs_float_logits_rel=arm64_tolerances.max_relative(arm, reference), arm_vs_float_score_abs=arm64_tolerances.max_score_diff(arm, reference),
            runtime=facts["runtime"], kernels=facts["kernels"], status="run", cpu=facts["cpu"],
            x86_psnr_db=on_x86.psnr_db, x86_top1=on_x86.top1_agreement,
            arm_psnr_db=on_arm.psnr_db, arm_top1=on_arm.top1_agreement,
            arm_vs_x86_psnr_db=arm_vs_x86.psnr_db, arm_vs_x86_top1=arm_vs_x86.top1_agreement,
            arm_accuracy=on_arm.accuracy, x86_accuracy=on_x86.accuracy,
            emulation_s=facts["emulation_seconds"], guest_run_s=arm_runner.info.get("run_seconds"),
            cpu_features=facts["cpu_features"], emulator=facts["emulator"],
        )
        rows.append(row)
        print(f"{name} {target} {label}: ARM {on_arm.psnr_db:.1f} dB, x86 {on_x86.psnr_db:.1f} dB, ARM vs x86 {arm_vs_x86.psnr_db:.1f} dB, "
              f"emulation {facts['emulation_seconds']} s", file=sys.stderr)
    return rows


def tolerance_table(rows: list[dict]) -> str:
    """The apps' contract measures (mvedge/apps/contract.py) between the ARM64 run and x86, and float."""
    lines = ["| model | target | precision | ARM64 vs x86: logits rel / score abs | ARM64 vs float: logits rel / score abs |", "|---|---|---|---:|---:|"]
    for r in rows:
        if "arm_vs_x86_logits_rel" in r:
            lines.append(f"| {r['model']} | {r['target']} | {r['precision']} | {r['arm_vs_x86_logits_rel']:.2g} / {r['arm_vs_x86_score_abs']:.2g} | "
                         f"{r['arm_vs_float_logits_rel']:.2g} / {r['arm_vs_float_score_abs']:.2g} |")
    return "\n".join(lines)


def table(rows: list[dict]) -> str:
    """Markdown table of the rows."""
    lines = ["| model | target | precision | runtime | ARM64 vs float: PSNR dB / top-1 | x86 vs float: PSNR dB / top-1 | ARM64 vs x86: PSNR dB / top-1 | emulation s |",
             "|---|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        if r["status"] != "run":
            lines.append(f"| {r['model']} | {r['target']} | {r['precision']} | {r['status']} | | | | |")
            continue
        cpu = f", {r['cpu']}" if r.get("cpu", "qemu -cpu max") != "qemu -cpu max" else ""
        lines.append(f"| {r['model']} | {r['target']} | {r['precision']} | {r['runtime']}, {r['kernels']}{cpu} | {r['arm_psnr_db']:.1f} / {r['arm_top1']:.3f} | "
                     f"{r['x86_psnr_db']:.1f} / {r['x86_top1']:.3f} | {r['arm_vs_x86_psnr_db']:.1f} / {r['arm_vs_x86_top1']:.3f} | {r['emulation_s']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="digits,t-shaped")
    parser.add_argument("--targets", default="tflite,onnx,executorch")
    parser.add_argument("--limit", type=int, default=100, help="held-out digits to use (default 100)")
    parser.add_argument("--photo-limit", type=int, default=8, help="photo crops for the T-shaped model (default 8)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    sys.path.insert(0, str(REPO))
    from mvedge import strict_json
    from mvedge.model.bundle import load_bundle
    from mvedge.verify.data import verification_set
    from mvedge.verify.reference import t_shaped_bundle

    rows: list[dict] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            bundle = load_bundle() if name == "digits" else t_shaped_bundle(tmp)
            images, labels, description = verification_set(bundle, limit=args.limit if name == "digits" else args.photo_limit)
            rows += rows_for(name, bundle, images, labels, description, Path(tmp), tuple(args.targets.split(",")))
    models, targets = args.models.split(","), args.targets.split(",")
    if RESULTS.exists():  # keep the rows of models and targets not re-run, in the matrix's order
        earlier = [r for r in strict_json.loads(RESULTS.read_text())["rows"] if r["model"] not in models or r["target"] not in targets]
        order = [(t, p + "".join(f" --{k.replace('_', '-')}" for k in extra)) for t, p, extra in MATRIX]
        rows = sorted(earlier + rows, key=lambda r: (r["model"] != "digits", order.index((r["target"], r["precision"])) if (r["target"], r["precision"]) in order else len(order)))
    features = next((r["cpu_features"] for r in rows if "cpu_features" in r), [])
    emulator = next((r["emulator"] for r in rows if "emulator" in r), "")
    print(f"\nARM64 (emulated: {emulator}, -cpu max) against x86 ({platform.machine()}), {time.perf_counter() - start:.0f} s in all\n")
    print(table(rows))
    print("\n" + tolerance_table(rows))
    print(f"\nemulated CPU features: {' '.join(features)}")
    strict_json.write_atomic(RESULTS, {"host": platform.machine(), "cores": os.cpu_count(), "emulator": emulator, "cpu": "max",
                                       "cpu_features": features, "rows": rows}, indent=1, newline=False)
    print(f"\nwrote {RESULTS.relative_to(REPO)}")
    arm64_tolerances.main([])  # the apps' contract tolerances follow the measurements


if __name__ == "__main__":
    main()
