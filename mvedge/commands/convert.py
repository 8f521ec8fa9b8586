"""`mvedge convert`: one model to one, several or all targets, verified, with a closing table."""

from __future__ import annotations

import argparse
from pathlib import Path

from typing import Any

from mvedge.artifact import sidecar_path
from mvedge.commands.conversion import Job, Outcome, add_conversion_arguments, convert_each, load_images, prepare
from mvedge.commands.output import add_json_argument, emit_json, human_lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `mvedge convert`."""
    add_conversion_arguments(parser)
    add_json_argument(parser, "the artifacts, their sidecars and drift")


def format_table(rows: list[Outcome]) -> str:
    """The closing table: one line per artifact."""
    header = ["target", "precision", "status", "size MB", "convert s", "PSNR dB", "cosine", "top-1 agree", "accuracy", "artifact"]
    lines = [header]
    for row in rows:
        artifact = row.artifact
        drift = artifact.drift if artifact else None
        lines.append(
            [
                row.target,
                row.precision,
                row.status,
                f"{artifact.size_bytes / 1e6:.2f}" if artifact and artifact.size_bytes else "-",
                f"{artifact.convert_seconds:.1f}" if artifact else "-",
                f"{drift.psnr_db:.1f}" if drift else "-",
                f"{drift.cosine:.6f}" if drift else "-",
                f"{drift.top1_agreement:.3f}" if drift and drift.top1_agreement is not None else "-",
                f"{drift.accuracy:.3f} (float {drift.reference_accuracy:.3f})" if drift and drift.accuracy is not None else "-",
                str(artifact.path) if artifact else row.reason,
            ]
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)


def outcome_dict(row: Outcome) -> dict[str, Any]:
    """One pair of the JSON report: what happened, and the artifact, its sidecar and drift."""
    artifact = row.artifact
    return {
        "target": row.target,
        "precision": row.precision,
        "status": row.status,
        "path": str(artifact.path) if artifact else None,
        "sidecar": str(sidecar_path(artifact.path)) if artifact else None,
        "sha256": artifact.sidecar.sha256 if artifact else None,
        "size_bytes": artifact.size_bytes if artifact else None,
        "convert_seconds": artifact.convert_seconds if artifact else None,
        "drift": artifact.drift.to_dict() if artifact and artifact.drift else None,
        "reason": row.reason,
    }


def convert_report(job: Job, rows: list[Outcome]) -> dict[str, Any]:
    """The JSON report of `mvedge convert` (--json)."""
    bundle = job.bundle
    return {
        "schema": "mvedge.convert/1",
        "model": bundle.name,
        "source": bundle.source,
        "image_size": bundle.image_size if not bundle.more_sizes else [list(size) for size in bundle.sizes],
        "artifacts": [outcome_dict(r) for r in rows],
    }


def convert_all(args: argparse.Namespace) -> tuple[Job, list[Outcome]]:
    """The checked job and one outcome per pair; a lone named pair that fails is raised as the
    error it is. The command and `mvedge.convert` both run this."""
    job = prepare(args, Path(args.out))
    bundle = job.bundle
    shapes = ", ".join(f"{bundle.config['in_channels']}x{h}x{w}" for h, w in bundle.sizes)
    job.progress.note(f"model {bundle.name} ({bundle.source}), input {shapes}")
    load_images(job, args)
    rows = []
    for outcome in convert_each(job, args):
        if outcome.status == "failed" and args.target != "all" and len(job.pairs) == 1:
            raise outcome.error
        rows.append(outcome)
    return job, rows


def run(args: argparse.Namespace) -> int:
    """Convert, verify and report; exit 0 when every artifact was written, 1 otherwise. A lone
    named pair that fails is reported as the error it is."""
    with human_lines(args.json):
        job, rows = convert_all(args)
        print(format_table(rows))
    emit_json(args.json, convert_report(job, rows))
    return 1 if any(r.status in ("failed", "skipped") for r in rows) else 0
