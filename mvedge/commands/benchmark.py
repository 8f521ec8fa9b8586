"""`mvedge benchmark`: `mvedge convert`'s loop over target x precision (default: all x all), each
artifact verified and profiled on this machine, in one table (and CSV, JSON and a PNG chart of
latency against accuracy and size)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mvedge.atomic import check_output_folder
from mvedge.commands.output import add_json_argument, emit_json, human_lines
from mvedge.commands.conversion import Job, Outcome, add_conversion_arguments, convert_each, load_images, prepare
from mvedge.errors import BadInput, MvedgeError
from mvedge.profile import profile_host
from mvedge.profile.host import default_threads, host_device
from mvedge.profile.matrix import (
    APPLE_DELEGATE_NOT_PROFILED, CORE_ML_NOT_PROFILED, CSV_HEADER, BenchmarkRow, chart_points, csv_rows, format_table,
)
from mvedge.profile.report import write_chart, write_csv, write_json
from mvedge.progress import Progress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `mvedge benchmark`: convert's, with all x all by default, and the profiling
    options. The old spellings --targets / --precisions still work (hidden from --help)."""
    add_conversion_arguments(
        parser, target_default="all", precision_default="all", out_default="mvedge-benchmark",
        out_help="output folder: artifacts/, benchmark.csv, .json, .png (default ./mvedge-benchmark)",
    )
    parser.add_argument("--targets", dest="target", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parser.add_argument("--precisions", dest="precision", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, help="runtime threads when profiling (default: this machine's CPUs)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs before timing (default 3)")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per artifact (default 20)")
    parser.add_argument("--breakdown", action="store_true", help="also record each artifact's per-operator profile (in the JSON)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed to profile one artifact (default 900)")
    add_json_argument(parser, "benchmark.json's payload (that file is written too)")


def benchmark_row(outcome: Outcome) -> BenchmarkRow:
    """The table row of one conversion outcome (latency columns still empty)."""
    artifact = outcome.artifact
    if artifact is None:
        return BenchmarkRow(outcome.target, outcome.precision, outcome.status, note=outcome.reason)
    row = BenchmarkRow(
        outcome.target, outcome.precision, outcome.status, note=outcome.reason,
        size_mb=round(artifact.size_bytes / 1e6, 3), convert_s=round(artifact.convert_seconds, 2), artifact=str(artifact.path),
    )
    drift = artifact.drift
    if drift is not None:
        row.accuracy, row.float_accuracy = drift.accuracy, drift.reference_accuracy
        row.psnr_db, row.cosine, row.top1_agreement = drift.psnr_db, drift.cosine, drift.top1_agreement
    return row


def _profile_row(row: BenchmarkRow, artifact_path: Path, args: argparse.Namespace, progress: Progress) -> None:
    """Profile the artifact on this machine and fill the row's latency columns."""
    if row.target == "coreml":
        row.note = CORE_ML_NOT_PROFILED if row.status == "verified" else "not profiled: Core ML latency needs an Apple device"
        return
    if row.target == "executorch" and row.precision.startswith("coreml"):
        row.note = APPLE_DELEGATE_NOT_PROFILED
        return
    try:
        with progress.stage("profiling"):
            result = profile_host(artifact_path, args.threads, args.warmup, args.runs, 10 if args.breakdown else 0, progress, args.timeout)
    except MvedgeError as exc:  # ProfileFailed, or an artifact the host cannot run
        row.note = f"not profiled: {exc}"
        return
    row.p50_ms = result.latency_ms["p50"]
    row.p90_ms = result.latency_ms["p90"]
    row.fps = result.throughput_fps
    row.load_ms = result.load_ms
    row.peak_memory_mb = result.peak_memory_mb
    row.profile = result.to_dict()


def _write_reports(out: Path, rows: list[BenchmarkRow], bundle, args: argparse.Namespace, progress: Progress) -> dict:
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
    title = f"{name} ({bundle.source}), {bundle.size_label} px, batch 1, {args.threads} thread(s), {device.model}"
    try:
        write_chart(out / "benchmark.png", chart_points(rows), title)
    except ImportError as exc:
        progress.note(f"no chart: {exc}")
    else:
        progress.note(f"chart: {out / 'benchmark.png'}")
    progress.note(f"tables: {out / 'benchmark.csv'}, {out / 'benchmark.json'}")
    return payload


def run(args: argparse.Namespace) -> int:
    """Convert, verify and profile every pair; exit 1 when any conversion failed or was skipped."""
    with human_lines(args.json):
        code, payload = _benchmark(args)
    emit_json(args.json, payload)
    return code


def _benchmark(args: argparse.Namespace) -> tuple[int, dict]:
    """The benchmark itself: the exit code and benchmark.json's payload."""
    if args.runs < 1 or args.warmup < 0:
        raise BadInput("--runs must be >= 1 and --warmup >= 0")
    if args.threads is not None and args.threads < 1:
        raise BadInput(f"--threads must be a positive integer, got {args.threads}")
    out = Path(args.out)
    check_output_folder(out)
    job: Job = prepare(args, out / "artifacts", reports=[out / "benchmark.json"])
    bundle = job.bundle
    args.threads = args.threads or default_threads()
    job.progress.note(
        f"benchmark: MambaVision-{bundle.name} ({bundle.source}), {bundle.size_label} px, {len(job.pairs)} target x precision pairs, "
        f"profiled with {args.threads} thread(s), {args.runs} runs"
    )
    load_images(job, args)
    rows = []
    for outcome in convert_each(job, args):
        row = benchmark_row(outcome)
        if outcome.artifact is not None:
            _profile_row(row, outcome.artifact.path, args, job.progress.child(f"{outcome.target} {outcome.precision}"))
        rows.append(row)
    payload = _write_reports(out, rows, bundle, args, job.progress)
    if job.images is not None and any(r.float_accuracy is not None for r in rows):
        reference = next(r.float_accuracy for r in rows if r.float_accuracy is not None)
        print(f"float model accuracy {reference:.3f} on {job.images[2]}; latency on this machine, batch 1, {args.threads} thread(s)")
    print(format_table(rows))
    return (1 if any(r.status in ("failed", "skipped") for r in rows) else 0), payload
