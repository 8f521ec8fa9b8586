"""`mvedge verify`: run an artifact in its own runtime and report its drift from the float model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dataclasses import asdict

from mvedge.artifact import checked_artifact, read_sidecar
from mvedge.atomic import check_output_file
from mvedge.commands.integrity import check_sha256
from mvedge.commands.output import add_json_argument, emit_json, human_lines
from mvedge.commands.resolve import model_from_options
from mvedge.errors import BadInput
from mvedge.model.outputs import choice_from_names
from mvedge.model.sizes import size_tag
from mvedge.verify.runners import ARCHES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `mvedge verify`."""
    parser.add_argument("artifact", help="a .onnx, .pte, .tflite or .mlpackage written by mvedge convert")
    parser.add_argument("--weights", help="the checkpoint file or Hugging Face repository it was converted from (default: the embedded model, per its sidecar)")
    parser.add_argument("--images", help="folder of images to check on (default: bundled images)")
    parser.add_argument("--limit", type=int, default=64, help="at most this many images (default 64)")
    add_json_argument(parser)
    parser.add_argument("--ignore-sha", action="store_true", help="run the artifact even when its sha256 differs from its sidecar's")
    parser.add_argument("--no-xnnpack", action="store_true", help="tflite: run LiteRT's builtin kernels instead of the XNNPACK delegate")
    parser.add_argument("--threads", type=int, help="runtime threads (onnx, tflite, executorch)")
    parser.add_argument(
        "--arch", choices=ARCHES, default="host",
        help="arm64: run on ARM64 CPU kernels under qemu emulation, as a phone's CPU runs them (tflite, onnx, executorch; "
             "prepares an ARM64 userland under the cache folder on first use)",
    )
    parser.add_argument(
        "--localize", action="store_true",
        help="also compare block outputs one by one and name the first block past the threshold (onnx, tflite, coreml)",
    )


def run(args: argparse.Namespace) -> int:
    """Print the metrics table; exit 1 when the artifact is past its precision's threshold."""
    with human_lines(args.json):
        code, payload = _verify(args)
    emit_json(args.json, payload)
    return code


def _verify(args: argparse.Namespace) -> tuple[int, dict]:
    """The check itself: the exit code and the JSON report."""
    from mvedge.verify.check import check_runner
    from mvedge.verify.runners import open_runner
    from mvedge.verify.data import verification_set
    from mvedge.verify.metrics import worst_size
    from mvedge.verify.thresholds import failures, threshold_for

    if args.limit < 1:
        raise BadInput(f"--limit must be a positive number of images, got {args.limit}")
    if args.json:  # before the model and the images are loaded
        check_output_file(args.json, "--json")
    artifact = checked_artifact(args.artifact)
    if args.localize and args.arch != "host":
        raise BadInput("--localize runs on the host only; drop --arch arm64 to localize, or --localize to check on ARM64")
    if args.localize and artifact.suffix == ".pte":
        raise BadInput("--localize is not available for .pte: ExecuTorch's Python runtime does not expose a delegated "
                         "program's intermediate tensors; localize the same model converted with --target onnx or tflite")
    sidecar = read_sidecar(artifact)
    sha256 = check_sha256(artifact, sidecar, args.ignore_sha)
    if args.weights is None and sidecar.source != "embedded":
        raise BadInput(f"{artifact.name} was converted from {sidecar.source!r}; pass that checkpoint with --weights")
    sizes = sidecar.input.all_sizes()  # (height, width) each; several for a multi-size artifact
    if len(sizes) > 1 and args.arch != "host":
        raise BadInput(f"{artifact.name} takes {len(sizes)} input sizes; --arch arm64 checks one: drop --arch to check every size on the host")
    # an artifact converted with --num-classes has the same (seeded) new head as this reload
    choice = choice_from_names([str(o.name) for o in sidecar.all_outputs()], sidecar.outputs is not None)
    bundle = model_from_options(args.weights, image_size=sizes, num_classes=sidecar.config.get("num_classes"), backbone=choice.kind == "stages")
    bundle.outputs = choice
    if {k: v for k, v in bundle.config.items() if k != "image_size"} != {k: v for k, v in sidecar.config.items() if k != "image_size"}:
        raise BadInput(f"--weights describe another model than the one {artifact.name} was converted from (configs differ)")
    images, labels, description = verification_set(bundle, args.images, args.limit)
    runner_options = {}
    if args.no_xnnpack:
        if artifact.suffix != ".tflite":
            raise BadInput("--no-xnnpack applies to .tflite artifacts only")
        runner_options["xnnpack"] = False
    if args.threads is not None:
        if args.threads < 1:
            raise BadInput(f"--threads must be a positive integer, got {args.threads}")
        if artifact.suffix == ".mlpackage":
            raise BadInput("--threads does not apply to .mlpackage (Core ML picks its own; the interpreter runs on one thread)")
        runner_options["threads"] = args.threads
    first = {"method": sidecar.input.methods[0]} if len(sizes) > 1 and sidecar.input.methods else {}
    runner = open_runner(artifact, sidecar=sidecar, arch=args.arch, **runner_options, **first)
    drift = check_runner(runner, bundle, images, labels)
    if len(sizes) > 1:  # every size through its own method / signature; the worst size decides
        drifts = {size_tag(sizes[0]): drift}
        for index, size in enumerate(sizes[1:], start=1):
            at = bundle.at_size(size)
            method = {"method": sidecar.input.methods[index]} if sidecar.input.methods else {}
            more, more_labels, _ = verification_set(at, args.images, args.limit)
            drifts[size_tag(size)] = check_runner(open_runner(artifact, sidecar=sidecar, **runner_options, **method), at, more, more_labels)
        drift = worst_size(drifts)
    emulated = runner.describe() if args.arch == "arm64" else None
    precision = sidecar.precision
    problems = failures(drift, precision)
    limit = threshold_for(precision)
    rows = [
        ("artifact", str(artifact)),
        ("target / precision", f"{sidecar.target} / {precision}"),
        ("runtime", _runtime_description(artifact, runner_options, emulated)),
        *_emulation_rows(emulated),
        ("images", description),
        ("max abs error", f"{drift.max_abs:.3g}"),
        ("mean abs error", f"{drift.mean_abs:.3g}"),
        ("cosine", f"{drift.cosine:.6f} (min {limit.min_cosine})"),
        ("PSNR", f"{drift.psnr_db:.1f} dB (min {limit.min_psnr_db:.0f})"),
    ]
    if drift.top1_agreement is not None:
        rows += [("top-1 agreement", f"{drift.top1_agreement:.3f} (min {limit.min_top1_agreement})"), ("top-5 overlap", f"{drift.top5_overlap:.3f}")]
    if drift.outputs:
        rows.append(("worst output", str(drift.output)))
        rows += [(f"output {name}", f"PSNR {d['psnr_db']:.1f} dB, cosine {d['cosine']:.6f}, max abs {d['max_abs']:.3g}") for name, d in drift.outputs.items()]
    if drift.sizes:
        rows.append(("worst size", str(drift.size)))
        methods = dict(zip((size_tag(s) for s in sizes), sidecar.input.methods or [None] * len(sizes)))
        rows += [(f"size {tag}" + (f" ({methods[tag]})" if methods.get(tag) else ""),
                  f"PSNR {d['psnr_db']:.1f} dB, cosine {d['cosine']:.6f}, max abs {d['max_abs']:.3g}") for tag, d in drift.sizes.items()]
    if drift.accuracy is not None:
        rows.append(("top-1 accuracy", f"{drift.accuracy:.3f} (float model {drift.reference_accuracy:.3f})"))
    rows.append(("result", "PASS" if not problems else "FAIL: " + "; ".join(problems)))
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k.ljust(width)}  {v}" for k, v in rows))
    report = None
    if args.localize:
        from mvedge.verify.localize import LocalizationUnavailable, format_localization, localize

        if len(sizes) > 1:
            print(f"note: --localize compares blocks at the first size ({size_tag(sizes[0])}) only")
        try:
            report = localize(artifact, bundle, images, precision)
        except LocalizationUnavailable as exc:
            raise BadInput(f"--localize: {exc}") from exc
        print()
        print(format_localization(report))
    payload = {
        "artifact": str(artifact),
        "target": sidecar.target,
        "runtime": _runtime_description(artifact, runner_options, emulated),
        "arch": args.arch,
        "precision": precision,
        "sha256": sha256,
        "images": description,
        "thresholds": {k: v for k, v in asdict(limit).items() if k != "reason"},
        "passed": not problems,
        "drift": drift.to_dict(),
        "failures": problems,
    }
    if emulated is not None:
        payload["emulation"] = emulated
    if report is not None:
        payload["localization"] = report.to_dict()
    return (1 if problems else 0), payload


def _emulation_rows(emulated: dict | None) -> list[tuple[str, str]]:
    """The emulated CPU, its features and the emulation time (not a phone's latency)."""
    if emulated is None:
        return []
    rows = [
        ("emulated CPU", f"ARM64, {emulated['cpu']} ({emulated['emulator']})"),
        ("CPU features", " ".join(emulated["cpu_features"])),
        ("emulation time", f"{emulated['emulation_seconds']} s (emulated, not a phone's latency)"),
    ]
    if "fp16_arithmetic" in emulated:
        rows.append(("fp16 arithmetic", emulated["fp16_arithmetic"]))
    if "cpu_note" in emulated:
        rows.append(("CPU note", emulated["cpu_note"]))
    return rows


def _runtime_description(artifact: Path, options: dict, emulated: dict | None = None) -> str:
    """Which runtime ran the check, in words."""
    if emulated is not None:
        return f"{emulated['runtime']}, {emulated['kernels']}, on emulated ARM64"
    if artifact.suffix == ".tflite":
        return "LiteRT, " + ("builtin kernels" if options.get("xnnpack") is False else "XNNPACK delegate")
    return {".onnx": "onnxruntime (CPU)", ".pte": "ExecuTorch (Python runtime)",
            ".mlpackage": "Core ML" if sys.platform == "darwin" else "mvedge MIL interpreter (Core ML needs macOS)"}.get(artifact.suffix, "?")
