"""`mvedge benchmark`: one model to every target x precision, each verified and profiled on this
machine, in one table (and CSV, JSON and a PNG chart of latency against accuracy and size)."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from mvedge.errors import BadInput
from mvedge.model.bundle import load_bundle
from mvedge.progress import Progress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `mvedge benchmark`."""
    parser.add_argument("--variant", help="official variant (T, S, B, ...), random weights unless --weights; default: the embedded digits model")
    parser.add_argument("--weights", help="checkpoint (.pth.tar, .pth, .pt, .safetensors)")
    parser.add_argument("--image-size", type=int, help="input side in pixels (default: the model's)")
    parser.add_argument("--targets", default="all", help="comma-separated targets (coreml, tflite, executorch, onnx) or all (default)")
    parser.add_argument("--precisions", default="all", help="comma-separated precisions, or all (default): every precision of each target")
    parser.add_argument("--out", default="mvedge-benchmark", help="output folder: artifacts/, benchmark.csv, .json, .png (default ./mvedge-benchmark)")
    parser.add_argument("--force", action="store_true", help="overwrite existing artifacts and reports")
    parser.add_argument("--threads", type=int, help="runtime threads when profiling (default: this machine's CPUs)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs before timing (default 3)")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per artifact (default 20)")
    parser.add_argument("--breakdown", action="store_true", help="also record each artifact's per-operator profile (in the JSON)")
    parser.add_argument("--calibration", help="folder of images for static int8 calibration (default: bundled images)")
    parser.add_argument("--images", help="folder of images for the drift check (default: bundled images)")
    parser.add_argument("--no-verify", action="store_true", help="skip the drift check (status 'converted', no accuracy columns)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed to profile one artifact (default 900)")


def plan(targets: str, precisions: str) -> list[tuple[str, str]]:
    """(target, precision) pairs: every precision of each target, filtered by --precisions."""
    from converters.base import BadRequest
    from converters.registry import TARGETS, get_converter

    names = list(TARGETS) if targets == "all" else [t.strip() for t in targets.split(",") if t.strip()]
    for name in names:
        get_converter(name)  # BadRequest for an unknown target
    wanted = None if precisions == "all" else {p.strip() for p in precisions.split(",") if p.strip()}
    pairs = [(t, p) for t in names for p in get_converter(t).precisions if wanted is None or p in wanted]
    if wanted:
        known = {p for t in names for p in get_converter(t).precisions}
        unknown = sorted(wanted - known)
        if unknown:
            raise BadRequest(f"no chosen target supports precision {', '.join(unknown)}; targets {', '.join(names)} support {', '.join(sorted(known))}")
    if not pairs:
        raise BadRequest("nothing to benchmark: no target x precision left")
    return pairs


def _profile_row(row, artifact, args, progress) -> None:
    """Profile the artifact on this machine and fill the row's latency columns."""
    from mvedge.profile import ProfileFailed, profile_host
    from mvedge.profile.matrix import APPLE_DELEGATE_NOT_PROFILED, CORE_ML_NOT_PROFILED

    if row.target == "coreml":
        row.note = CORE_ML_NOT_PROFILED if row.status == "verified" else "not profiled: Core ML latency needs an Apple device"
        return
    if row.target == "executorch" and row.precision.startswith("coreml"):
        row.note = APPLE_DELEGATE_NOT_PROFILED
        return
    try:
        with progress.stage("profiling"):
            result = profile_host(artifact.path, args.threads, args.warmup, args.runs, 10 if args.breakdown else 0, progress, args.timeout)
    except (ProfileFailed, ValueError) as exc:
        row.note = f"not profiled: {exc}"
        return
    row.p50_ms = result.latency_ms["p50"]
    row.p90_ms = result.latency_ms["p90"]
    row.fps = result.throughput_fps
    row.load_ms = result.load_ms
    row.peak_memory_mb = result.peak_memory_mb
    row.profile = result.to_dict()


def _convert_row(target, precision, bundle, args, calibration, images, progress):
    """Convert (and verify) one pair; a row with status converted / verified / failed."""
    from converters.base import ConversionError, ConvertOptions
    from converters.pipeline import convert
    from mvedge.profile.matrix import BenchmarkRow

    options = ConvertOptions(precision, bundle.image_size, calibration=calibration)
    try:
        artifact = convert(bundle, target, precision, Path(args.out) / "artifacts", options, args.force, not args.no_verify, images, progress)
    except ConversionError as exc:
        return BenchmarkRow(target, precision, "failed", note=str(exc)), None
    drift = artifact.drift
    row = BenchmarkRow(
        target, precision, "verified" if drift is not None else "converted",
        note="" if drift is not None else artifact.verify_note,
        size_mb=round(artifact.size_bytes / 1e6, 3), convert_s=round(artifact.convert_seconds, 2), artifact=str(artifact.path),
    )
    if drift is not None:
        row.accuracy, row.float_accuracy = drift.accuracy, drift.reference_accuracy
        row.psnr_db, row.cosine, row.top1_agreement = drift.psnr_db, drift.cosine, drift.top1_agreement
    return row, artifact


def _write_reports(out: Path, rows, bundle, args, progress) -> None:
    from mvedge.profile.host import host_device
    from mvedge.profile.matrix import CSV_HEADER, chart_points, csv_rows
    from mvedge.profile.report import write_chart, write_csv, write_json

    device = host_device()
    payload = {
        "schema": "mvedge.benchmark/1",
        "model": bundle.name,
        "source": bundle.source,
        "image_size": bundle.image_size,
        "machine": {"model": device.model, "os": device.os, "abi": device.abi},
        "threads": args.threads,
        "warmup": args.warmup,
        "runs": args.runs,
        "rows": [r.to_dict() for r in rows],
    }
    write_csv(out / "benchmark.csv", CSV_HEADER, csv_rows(rows))
    write_json(out / "benchmark.json", payload)
    name = bundle.name if bundle.name.lower().startswith("mambavision") else f"MambaVision-{bundle.name}"
    title = f"{name} ({bundle.source}), {bundle.image_size} px, batch 1, {args.threads} thread(s), {device.model}"
    try:
        write_chart(out / "benchmark.png", chart_points(rows), title)
    except ImportError as exc:
        progress.note(f"no chart: {exc}")
    else:
        progress.note(f"chart: {out / 'benchmark.png'}")
    progress.note(f"tables: {out / 'benchmark.csv'}, {out / 'benchmark.json'}")


def run(args: argparse.Namespace) -> int:
    """Convert, verify and profile every pair; exit 1 when any conversion failed."""
    from converters.base import BadRequest
    from converters.pipeline import artifact_name
    from converters.registry import get_converter
    from mvedge.data.calibration import calibration_set
    from mvedge.profile.host import default_threads
    from mvedge.profile.matrix import format_table
    from mvedge.verify.data import verification_set
    from mvedge.verify.runners.base import sidecar_path

    if args.runs < 1 or args.warmup < 0:
        raise BadInput("--runs must be >= 1 and --warmup >= 0")
    if args.threads is not None and args.threads < 1:
        raise BadInput(f"--threads must be a positive integer, got {args.threads}")
    pairs = plan(args.targets, args.precisions)
    out = Path(args.out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bundle = load_bundle(args.weights, args.variant, args.image_size)
    if not args.force:  # refuse before any work
        existing = [out / "artifacts" / artifact_name(bundle, t, p, get_converter(t).suffix) for t, p in pairs]
        existing = [p for p in existing if p.exists() or sidecar_path(p).exists()] + [p for p in (out / "benchmark.json",) if p.exists()]
        if existing:
            raise BadRequest(f"{existing[0]} already exists; pass --force to overwrite, or --out to choose another folder")
    args.threads = args.threads or default_threads()
    progress = Progress()
    progress.note(
        f"benchmark: MambaVision-{bundle.name} ({bundle.source}), {bundle.image_size} px, {len(pairs)} target x precision pairs, "
        f"profiled with {args.threads} thread(s), {args.runs} runs"
    )
    calibration = images = None
    if any(p in get_converter(t).calibrated for t, p in pairs):
        with progress.stage("loading calibration images"):
            calibration = calibration_set(bundle, args.calibration)
    if not args.no_verify:
        with progress.stage("loading verification images"):
            images = verification_set(bundle, args.images)
    rows = []
    for target, precision in pairs:
        child = progress.child(f"{target} {precision}")
        row, artifact = _convert_row(target, precision, bundle, args, calibration, images, progress)
        if artifact is not None:
            _profile_row(row, artifact, args, child)
        rows.append(row)
    _write_reports(out, rows, bundle, args, progress)
    if images is not None and rows and any(r.float_accuracy is not None for r in rows):
        reference = next(r.float_accuracy for r in rows if r.float_accuracy is not None)
        print(f"float model accuracy {reference:.3f} on {images[2]}; latency on this machine, batch 1, {args.threads} thread(s)")
    print(format_table(rows))
    return 1 if any(r.status == "failed" for r in rows) else 0
