"""`mvedge info`: what an artifact is, from its sidecar (model, target, precision, input, output,
preprocessing, labels, toolchain, drift), after checking that the artifact is the one it describes."""

from __future__ import annotations

import argparse
from typing import Any

from mvedge.artifact import Sidecar, checked_artifact, read_sidecar
from mvedge.commands.integrity import check_sha256
from mvedge.commands.output import add_json_argument, emit_json, human_lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `mvedge info`."""
    parser.add_argument("artifact", help="a .onnx, .pte, .tflite or .mlpackage written by mvedge convert (its sidecar next to it)")
    parser.add_argument("--ignore-sha", action="store_true", help="describe the artifact even when its sha256 differs from its sidecar's")
    add_json_argument(parser, "the sidecar and the artifact's sha256")


def _fields(values: dict[str, Any] | None) -> str:
    """A sidecar section as 'key value, ...' without empty entries."""
    return ", ".join(f"{k} {v}" for k, v in (values or {}).items() if v not in (None, {}, []))


def _preprocessing(pre: dict[str, Any]) -> str:
    keys = ("input_size", "resize_size", "interpolation", "crop_pct", "crop_mode", "mean", "std", "channels", "layout")
    return _fields({k: pre.get(k) for k in keys if k in pre})


def _drift(sidecar: Sidecar) -> str:
    drift = sidecar.drift
    if not drift:
        return sidecar.verification or "not verified"
    parts = [f"PSNR {drift['psnr_db']:.1f} dB", f"cosine {drift['cosine']:.6f}"]
    if drift.get("top1_agreement") is not None:
        parts.append(f"top-1 agreement {drift['top1_agreement']:.3f}")
    if drift.get("outputs"):
        parts[0] = f"worst output {drift.get('output')}: {parts[0]}"
    if drift.get("sizes"):
        parts[0] = f"worst size {drift.get('size')}: {parts[0]}"
    if drift.get("accuracy") is not None:
        parts.append(f"accuracy {drift['accuracy']:.3f} (float {drift['reference_accuracy']:.3f})")
    return ", ".join(parts) + (f" ({sidecar.verification})" if sidecar.verification else "")


def _outputs(sidecar: Sidecar, data: dict[str, Any]) -> list[tuple[str, str]]:
    """One row for a single output; one per output ('output stage1', ...) for several, with its drift."""
    if not sidecar.outputs or len(sidecar.outputs) == 1:
        return [("output", _fields(data["output"]))]
    per_output = (sidecar.drift or {}).get("outputs") or {}
    rows = []
    for spec in data["outputs"]:
        drift = per_output.get(spec["name"])
        numbers = f"; PSNR {float(drift['psnr_db']):.1f} dB, cosine {float(drift['cosine']):.6f}" if drift else ""
        rows.append((f"output {spec['name']}", _fields({k: v for k, v in spec.items() if k != "name"}) + numbers))
    return rows


def _sizes(sidecar: Sidecar) -> list[tuple[str, str]]:
    """A multi-size artifact: one row per size ('size 96x128'), its method or signature and drift."""
    if not sidecar.input.sizes:
        return []
    per_size = (sidecar.drift or {}).get("sizes") or {}
    rows = []
    for index, (height, width) in enumerate(sidecar.input.sizes):
        tag = str(height) if height == width else f"{height}x{width}"
        method = sidecar.input.methods[index] if sidecar.input.methods else None
        drift = per_size.get(tag)
        numbers = f"PSNR {float(drift['psnr_db']):.1f} dB, cosine {float(drift['cosine']):.6f}" if drift else "not verified"
        rows.append((f"size {tag}", (f"{method}: " if method else "") + numbers))
    return rows


def run(args: argparse.Namespace) -> int:
    """Print the sidecar's main fields; exit 2 when the artifact's sha256 differs from the sidecar's (unless --ignore-sha)."""
    artifact = checked_artifact(args.artifact)
    sidecar = read_sidecar(artifact)
    with human_lines(args.json):
        sha256 = check_sha256(artifact, sidecar, args.ignore_sha)
        data = sidecar.to_dict()
        rows = [
            ("artifact", str(artifact)),
            ("model", f"{sidecar.model} ({sidecar.source})"),
            ("target / precision", f"{sidecar.target} / {sidecar.precision}"),
            ("input", _fields(data["input"])),
            *_outputs(sidecar, data),
            ("preprocessing", _preprocessing(sidecar.preprocessing)),
            ("labels", f"{len(sidecar.labels)} class names" if sidecar.labels else "none (outputs are class indices)" if sidecar.output.name in ("logits", None) else "none (no class outputs)"),
            ("toolchain", _fields(sidecar.toolchain)),
            ("drift", _drift(sidecar)),
            *_sizes(sidecar),
            ("sha256", sha256 + ("" if sidecar.sha256 == sha256 else " (not the sidecar's)" if sidecar.sha256 else " (sidecar records none)")),
            ("size", f"{sidecar.size_bytes / 1e6:.2f} MB" if sidecar.size_bytes else "-"),
        ]
        width = max(len(k) for k, _ in rows)
        print("\n".join(f"{k.ljust(width)}  {v}" for k, v in rows))
    emit_json(args.json, {"artifact": str(artifact), "sha256": sha256, "sha256_matches": sidecar.sha256 == sha256, "sidecar": data})
    return 0
