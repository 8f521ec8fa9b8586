"""`mvedge convert`: one model to one or all targets, verified, with a closing table."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import warnings
from pathlib import Path

from mvedge.errors import BadInput
from mvedge.model.bundle import load_bundle
from mvedge.progress import Progress

DEFAULT_PRECISION = {"coreml": "fp16", "tflite": "fp32", "executorch": "fp32", "onnx": "fp32"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `mvedge convert`."""
    from converters.registry import TARGETS

    parser.add_argument("--target", required=True, choices=[*TARGETS, "all"], help="target runtime, or all")
    parser.add_argument("--variant", help="official variant (T, S, B, ...); with --weights, overrides detection")
    parser.add_argument("--weights", help="checkpoint (.pth.tar, .pth, .pt, .safetensors); default: the embedded digits model")
    parser.add_argument(
        "--precision",
        help="fp32, fp16, int8, int8-dynamic, w8, palette6, palette4, coreml-fp16 (per target), or all; "
        f"default: {', '.join(f'{t} {p}' for t, p in DEFAULT_PRECISION.items())}",
    )
    parser.add_argument("--image-size", type=int, help="input side in pixels (default: the model's)")
    parser.add_argument("--calibration", help="folder of images for static int8 calibration (default: bundled images)")
    parser.add_argument("--calibration-limit", type=int, default=64, help="at most this many calibration images (default 64)")
    parser.add_argument(
        "--observer", choices=["minmax", "histogram", "percentile"],
        help="int8 calibration: how activation ranges are chosen (default: the target recipe's; see README)",
    )
    parser.add_argument("--exclude", help="int8: comma-separated blocks kept float (names from mvedge quant-report)")
    parser.add_argument("--images", help="folder of images for the drift check (default: bundled images)")
    parser.add_argument("--out", default="mvedge-out", help="output folder (default ./mvedge-out)")
    parser.add_argument("--force", action="store_true", help="overwrite existing artifacts")
    parser.add_argument("--no-verify", action="store_true", help="skip the drift check in the target's runtime")
    parser.add_argument("--nhwc", action="store_true", help="tflite: NHWC (channels-last) input")
    parser.add_argument("--io-dtype", choices=["float32", "int8"], help="tflite int8: input/output dtype (default float32)")
    parser.add_argument("--via", choices=["litert-torch", "onnx2tf"], help="tflite: conversion route (default litert-torch)")
    parser.add_argument("--minimum-target", help="coreml: minimum deployment target (default iOS17)")
    parser.add_argument(
        "--scan-fp32", action="store_true",
        help="coreml fp16: keep the selective scan in fp32; tflite int8 with --all-integer: keep the scan float32",
    )
    parser.add_argument(
        "--all-integer", action="store_true",
        help="tflite int8: quantize the scan, norms and softmax too (integer-only accelerators; less accurate)",
    )
    parser.add_argument("--tensor-input", action="store_true", help="coreml: plain tensor input instead of an image input")


def target_options(args: argparse.Namespace) -> dict:
    """Target-specific options from the command line (only those given)."""
    extra = {
        "nhwc": args.nhwc or None,
        "io_dtype": args.io_dtype,
        "via": args.via,
        "minimum_target": args.minimum_target,
        "scan_fp32": args.scan_fp32 or None,
        "all_integer": getattr(args, "all_integer", False) or None,
        "tensor_input": args.tensor_input or None,
        "observer": getattr(args, "observer", None),
        "exclude": getattr(args, "exclude", None),
    }
    return {k: v for k, v in extra.items() if v is not None}


def int8_options(extra: dict, target: str, precision: str, qat: dict | None) -> dict:
    """The target options of one (target, precision): observer / exclude only for int8, and for
    a QAT checkpoint tuned for this target, its recorded observer, exclusions and recipe options
    where the command line gives none."""
    extra = dict(extra)
    if precision != "int8":
        for key in ("observer", "exclude", "all_integer"):
            extra.pop(key, None)
        return extra
    if qat and qat.get("target") == target:
        extra.setdefault("observer", qat.get("observer"))
        if qat.get("exclude"):
            extra.setdefault("exclude", ",".join(qat["exclude"]))
        for key, value in (qat.get("convert_options") or {}).items():
            extra.setdefault(key, value)
    return {k: v for k, v in extra.items() if v is not None}


def plan(target: str, precision: str | None) -> list[tuple[str, str]]:
    """(target, precision) pairs to build; errors for an unsupported precision come from the pipeline."""
    from converters.registry import TARGETS, get_converter

    targets = list(TARGETS) if target == "all" else [target]
    pairs = []
    for name in targets:
        if precision == "all":
            pairs += [(name, p) for p in get_converter(name).precisions]
        elif precision is None:
            pairs.append((name, DEFAULT_PRECISION[name]))
        elif target == "all" and precision not in get_converter(name).precisions:
            continue  # --target all --precision int8: the targets that have int8
        else:
            pairs.append((name, precision))
    if not pairs:
        raise BadInput(f"no target supports precision {precision!r}")
    return pairs


def format_table(rows: list[dict]) -> str:
    """The closing table: one line per artifact."""
    header = ["target", "precision", "status", "size MB", "convert s", "PSNR dB", "cosine", "top-1 agree", "accuracy", "artifact"]
    lines = [header]
    for row in rows:
        drift = row.get("drift")
        lines.append(
            [
                row["target"],
                row["precision"],
                row["status"],
                f"{row['size_bytes'] / 1e6:.2f}" if row.get("size_bytes") else "-",
                f"{row['seconds']:.1f}" if row.get("seconds") is not None else "-",
                f"{drift.psnr_db:.1f}" if drift else "-",
                f"{drift.cosine:.6f}" if drift else "-",
                f"{drift.top1_agreement:.3f}" if drift else "-",
                f"{drift.accuracy:.3f} (float {drift.reference_accuracy:.3f})" if drift and drift.accuracy is not None else "-",
                row.get("path", row.get("reason", "")),
            ]
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)


def run(args: argparse.Namespace) -> int:
    """Convert, verify and report; exit 0 when every artifact was written, 1 otherwise."""
    from converters.base import BadRequest, ConversionError, ConvertOptions, MissingExtra
    from converters.pipeline import convert
    from converters.registry import get_converter
    from mvedge.data.calibration import calibration_set
    from mvedge.verify.data import verification_set

    pairs = plan(args.target, args.precision)
    if (getattr(args, "observer", None) or getattr(args, "exclude", None)) and not any(p == "int8" for _, p in pairs):
        raise BadInput("--observer and --exclude apply to --precision int8 (static calibration) only")
    if getattr(args, "all_integer", False) and ("tflite", "int8") not in pairs:
        raise BadInput("--all-integer applies to --target tflite --precision int8 only")
    for target, precision in pairs:  # refuse bad requests before any work
        converter = get_converter(target)
        converter.check_precision(precision)
        if args.target != "all":
            converter.check_available()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bundle = load_bundle(args.weights, args.variant, args.image_size)
    if args.weights is None and args.variant:
        print(f"note: no --weights: MambaVision-{bundle.name} with random weights (fine for timing, not accuracy)", file=sys.stderr)
    from mvedge.quant.checkpoint import apply_qat_info, data_bundle, read_qat_info

    qat = read_qat_info(args.weights)
    if qat:
        apply_qat_info(bundle, qat)
        if args.image_size:  # the command line wins over the checkpoint's input size
            bundle.preprocessing = dataclasses.replace(bundle.preprocessing, input_size=args.image_size)
            bundle.config["image_size"] = args.image_size
    if not args.force:  # refuse before any work, not after minutes of conversion
        from converters.pipeline import artifact_name
        from mvedge.verify.runners.base import sidecar_path

        for target, precision in pairs:
            final = Path(args.out) / artifact_name(bundle, target, precision, get_converter(target).suffix)
            if final.exists() or sidecar_path(final).exists():
                raise BadRequest(f"{final} already exists; pass --force to overwrite it or --out to choose another folder")
    progress = Progress()
    progress.note(f"model {bundle.name} ({bundle.source}), input {bundle.config['in_channels']}x{bundle.image_size}x{bundle.image_size}")
    if qat:
        other = sorted({t for t, p in pairs if p == "int8" and t != qat.get("target")})
        progress.note(
            f"QAT checkpoint tuned for {qat.get('target')} int8"
            + (f"; {', '.join(other)} int8 use their own recipe without QAT's benefit" if other else "")
        )
    calibration = None
    if any(p in get_converter(t).calibrated for t, p in pairs):
        with progress.stage("loading calibration images"):
            calibration = calibration_set(data_bundle(bundle), args.calibration, args.calibration_limit)
    images = None
    if not args.no_verify:
        with progress.stage("loading verification images"):
            images = verification_set(data_bundle(bundle), args.images)
    rows, failed = [], False
    for target, precision in pairs:
        extra = int8_options(target_options(args), target, precision, qat)
        options = ConvertOptions(precision, bundle.image_size, calibration=calibration, extra=extra)
        try:
            artifact = convert(bundle, target, precision, Path(args.out), options, args.force, not args.no_verify, images, progress)
        except MissingExtra as exc:
            rows.append({"target": target, "precision": precision, "status": "skipped", "reason": str(exc)})
            failed = True
        except ConversionError as exc:
            if args.target != "all" and len(pairs) == 1:
                raise
            rows.append({"target": target, "precision": precision, "status": "failed", "reason": str(exc)})
            failed = True
        else:
            status = "verified" if artifact.drift is not None else "converted"
            rows.append(
                {
                    "target": target,
                    "precision": precision,
                    "status": status,
                    "size_bytes": artifact.size_bytes,
                    "seconds": artifact.convert_seconds,
                    "drift": artifact.drift,
                    "path": str(artifact.path),
                }
            )
    print(format_table(rows))
    return 1 if failed else 0
