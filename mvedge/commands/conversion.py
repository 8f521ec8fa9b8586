"""The conversion loop `mvedge convert` and `mvedge benchmark` share: their common options, the
plan of (target, precision) pairs, the checks made before any work, and one converted (and
verified) artifact per pair through converters.pipeline."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

import mvedge.data.calibration
import mvedge.verify.data
from converters import pipeline
from converters.base import ConvertOptions, MissingExtra
from converters.registry import TARGETS, get_converter
from mvedge.artifact import sidecar_path
from mvedge.atomic import check_output_folder
from mvedge.commands.resolve import model_from_options
from mvedge.errors import BadInput, MvedgeError
from mvedge.model.bundle import ModelBundle
from mvedge.model.outputs import KINDS, is_backbone, parse_outputs
from mvedge.model.sizes import parse_sizes
from mvedge.progress import Progress
from mvedge.quant.regions import resolve_exclusions
from mvedge.verify.runners import ARCHES

DEFAULT_PRECISION = {"coreml": "fp16", "tflite": "fp32", "executorch": "fp32", "onnx": "fp32"}


def add_conversion_arguments(parser: argparse.ArgumentParser, target_default: str | None = None,
                             precision_default: str | None = None, out_default: str = "mvedge-out",
                             out_help: str | None = None) -> None:
    """The model, plan, image, output and target options both commands take. No `target_default`
    makes --target required; no `precision_default` means each target's default precision."""
    parser.add_argument(
        "--target", required=target_default is None, default=target_default,
        help=f"target runtime ({', '.join(TARGETS)}), a comma-separated list, or all"
        + (f" (default {target_default})" if target_default else ""),
    )
    parser.add_argument("--variant", help="official variant (T, S, B, ...); with --weights, overrides detection")
    parser.add_argument(
        "--weights",
        help="checkpoint (.pth.tar, .pth, .pt, .safetensors) or Hugging Face repository (nvidia/MambaVision-T-1K[@revision]); "
        "default: the embedded digits model",
    )
    parser.add_argument(
        "--num-classes", type=int, metavar="N",
        help="keep the backbone, give it a new, untrained N-class head (default: the model's head)",
    )
    default = (
        f"default: {precision_default}" if precision_default
        else f"default: {', '.join(f'{t} {p}' for t, p in DEFAULT_PRECISION.items())}"
    )
    parser.add_argument(
        "--precision", default=precision_default,
        help="fp32, fp16, int8, int8-dynamic, w8, palette6, palette4, coreml-fp16 (per target), a comma-separated list, "
        f"or all: every precision of each target; {default}",
    )
    parser.add_argument(
        "--image-size", metavar="SIZE",
        help="input size in pixels: a side (224), HEIGHTxWIDTH (256x320), or a comma-separated list (224,256x320) for one "
        "artifact taking several sizes (executorch fp32, tflite fp32, onnx, coreml except int8; others refuse); default: the model's",
    )
    parser.add_argument(
        "--outputs", choices=KINDS,
        help="what the artifact outputs: logits (default), features (the pooled 8*dim vector) or stages (stage maps, "
        "one named output each; the default for a detection/segmentation backbone checkpoint)",
    )
    parser.add_argument(
        "--stages", metavar="LIST",
        help="with --outputs stages: comma-separated stages, numbered 0..3 like out_indices (stage i has stride 2**(i+2)); "
        "default: all four, or a backbone's out_indices",
    )
    parser.add_argument(
        "--labels", metavar="FILE",
        help="class names, one per line in class-index order (default: the model's; ImageNet-1K for official checkpoints)",
    )
    parser.add_argument("--calibration", help="folder of images for static int8 calibration (default: bundled images)")
    parser.add_argument("--calibration-limit", type=int, default=64, help="at most this many calibration images (default 64)")
    parser.add_argument(
        "--observer", choices=["minmax", "histogram", "percentile"],
        help="int8 calibration: how activation ranges are chosen (default: the target recipe's; see README)",
    )
    parser.add_argument("--exclude", help="int8: comma-separated blocks kept float (names from mvedge quant-report)")
    parser.add_argument("--images", help="folder of images for the drift check (default: bundled images)")
    parser.add_argument(
        "--limit", type=int, default=mvedge.verify.data.DEFAULT_LIMIT,
        help=f"at most this many images for the drift check (default {mvedge.verify.data.DEFAULT_LIMIT})",
    )
    parser.add_argument("--out", default=out_default, help=out_help or f"output folder (default ./{out_default})")
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument("--no-verify", action="store_true", help="skip the drift check in the target's runtime")
    parser.add_argument(
        "--verify-arch", choices=ARCHES, default="host",
        help="arm64: run the drift check on ARM64 CPU kernels under qemu emulation (tflite, onnx, executorch; "
             "coreml stays on the host's MIL interpreter)",
    )
    parser.add_argument("--nhwc", action="store_true", help="tflite: NHWC (channels-last) input")
    parser.add_argument("--io-dtype", choices=["float32", "int8"], help="tflite int8: input/output dtype (default float32)")
    parser.add_argument("--via", choices=["litert-torch", "onnx2tf"], help="tflite: conversion route (default litert-torch)")
    parser.add_argument(
        "--onnx2tf-python", metavar="PATH",
        help="tflite --via onnx2tf: the Python >= 3.12 that runs onnx2tf in mvedge's side environment "
        "(default: $MVEDGE_ONNX2TF_PYTHON, else python3.12+ on PATH or in pyenv)",
    )
    parser.add_argument("--minimum-target", help="coreml: minimum deployment target (default iOS17)")
    parser.add_argument(
        "--scan-fp32", action="store_true",
        help="coreml fp16: keep the selective scan in fp32; tflite int8 with --all-integer: keep the scan float32",
    )
    parser.add_argument(
        "--all-integer", action="store_true",
        help="tflite int8: quantize the scan, norms, softmax, GELU and attention matmuls too (integer-only accelerators; less accurate)",
    )
    parser.add_argument("--tensor-input", action="store_true", help="coreml: plain tensor input instead of an image input")


def _names(value: str) -> list[str]:
    """The names of a comma-separated list, in order, without blanks or repeats."""
    return list(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))


def plan(target: str, precision: str | None) -> list[tuple[str, str]]:
    """(target, precision) pairs to build. `target`: a name, a comma-separated list or all;
    `precision`: None (each target's default), a name, a comma-separated list, or all (every
    precision of each target). A listed precision goes to the targets that support it; one that no
    chosen target supports is an error (for a single named target, whatever it does not support)."""
    names = list(TARGETS) if target == "all" else _names(target)
    unknown = [n for n in names if n not in TARGETS]
    if unknown or not names:
        raise BadInput(f"unknown target {(unknown or [target])[0]!r}; choose one of {', '.join(TARGETS)} or all")
    supported = {n: list(get_converter(n).precisions) for n in names}
    if precision is None:
        return [(n, DEFAULT_PRECISION[n]) for n in names]
    if precision == "all":
        return [(n, p) for n in names for p in supported[n]]
    wanted = _names(precision)
    known = list(dict.fromkeys(p for n in names for p in supported[n]))
    missing = [p for p in wanted if p not in known] or ([] if wanted else [precision])
    if missing and len(names) == 1:
        raise BadInput(f"target {names[0]} does not support precision {missing[0]!r}; choose one of {', '.join(known)}")
    if missing:
        chosen = "no target" if target == "all" else f"no chosen target ({', '.join(names)})"
        raise BadInput(f"{chosen} supports precision {', '.join(map(repr, missing))}; choose from {', '.join(known)}")
    return [(n, p) for n in names for p in supported[n] if p in wanted]


OPTION_FLAGS = {  # target option (ConvertOptions.extra key) -> its command-line flag
    "nhwc": "--nhwc",
    "io_dtype": "--io-dtype",
    "via": "--via",
    "onnx2tf_python": "--onnx2tf-python",
    "minimum_target": "--minimum-target",
    "scan_fp32": "--scan-fp32",
    "all_integer": "--all-integer",
    "tensor_input": "--tensor-input",
    "observer": "--observer",
    "exclude": "--exclude",
}


def option_users(option: str) -> str:
    """Who reads a target option, from the converters' `reads` tables: 'tflite int8, executorch int8'."""
    users = []
    for target in TARGETS:
        if option in get_converter(target).reads:
            precisions = get_converter(target).reads[option]
            users.append(target if precisions is None else f"{target} {'/'.join(precisions)}")
    return ", ".join(users)


def unused_options(args: argparse.Namespace, pairs: list[tuple[str, str]]) -> list[str]:
    """Refuse (BadInput) a target option, or --calibration, that no pair of the plan uses; return
    one note per option that some pairs use and others do not (they ignore it)."""
    notes = []
    given = dict(target_options(args))
    if args.calibration:
        given["calibration"] = args.calibration
    for option in given:
        if option == "calibration":
            users = [(t, p) for t, p in pairs if p in get_converter(t).calibrated]
            flag, who = "--calibration", ", ".join(f"{t} {'/'.join(sorted(get_converter(t).calibrated))}" for t in TARGETS if get_converter(t).calibrated)
        else:
            users = [(t, p) for t, p in pairs if get_converter(t).uses(option, p)]
            flag, who = OPTION_FLAGS[option], option_users(option)
        if not users:
            run = ", ".join(f"{t} {p}" for t, p in pairs)
            raise BadInput(f"{flag} is not used by this run ({run}); it applies to {who or 'no target'}: drop it or change --target/--precision")
        ignored = [f"{t} {p}" for t, p in pairs if (t, p) not in users]
        if ignored:
            notes.append(f"note: {flag} applies to {', '.join(f'{t} {p}' for t, p in users)} only; {', '.join(ignored)} {'ignores' if len(ignored) == 1 else 'ignore'} it")
    return notes


def left_out(target: str, precision: str | None, pairs: list[tuple[str, str]]) -> str | None:
    """A note naming the chosen targets that the plan left out because none of the listed
    precisions is theirs (`--target all --precision palette4`)."""
    if precision in (None, "all"):
        return None
    names = list(TARGETS) if target == "all" else _names(target)
    planned = {t for t, _ in pairs}
    missing = [n for n in names if n not in planned]
    if not missing:
        return None
    return f"note: {', '.join(missing)} left out: no precision {precision} (their precisions: " + "; ".join(
        f"{n} {', '.join(get_converter(n).precisions)}" for n in missing
    ) + ")"


def target_options(args: argparse.Namespace) -> dict:
    """Target-specific options from the command line (only those given)."""
    extra = {
        "nhwc": args.nhwc or None,
        "io_dtype": args.io_dtype,
        "via": args.via,
        "onnx2tf_python": args.onnx2tf_python,
        "minimum_target": args.minimum_target,
        "scan_fp32": args.scan_fp32 or None,
        "all_integer": args.all_integer or None,
        "tensor_input": args.tensor_input or None,
        "observer": args.observer,
        "exclude": args.exclude,
    }
    return {k: v for k, v in extra.items() if v is not None}


def int8_options(extra: dict, target: str, precision: str, qat: dict | None) -> dict:
    """The target options of one (target, precision): only those its converter reads at that
    precision (its `reads` table), and for a QAT checkpoint tuned for this target, its recorded
    observer, exclusions and recipe options where the command line gives none."""
    converter = get_converter(target)
    extra = {k: v for k, v in extra.items() if converter.uses(k, precision) or k not in OPTION_FLAGS}
    if precision != "int8":
        return extra
    if qat and qat.get("target") == target:
        extra.setdefault("observer", qat.get("observer"))
        if qat.get("exclude"):
            extra.setdefault("exclude", ",".join(qat["exclude"]))
        for key, value in (qat.get("convert_options") or {}).items():
            extra.setdefault(key, value)
    return {k: v for k, v in extra.items() if v is not None}


def check_request(args: argparse.Namespace, pairs: list[tuple[str, str]]) -> list[str]:
    """Refuse a bad request before any work: an option no pair uses, a bad option value (each
    converter's `check_options`), and (for named targets) a toolchain that is not installed.
    Returns the notes on options some pairs ignore."""
    if args.limit < 1:
        raise BadInput(f"--limit must be a positive number of images, got {args.limit}")
    if args.calibration_limit < 1:
        raise BadInput(f"--calibration-limit must be a positive number of images, got {args.calibration_limit}")
    if args.no_verify and args.verify_arch != "host":
        raise BadInput(f"--verify-arch {args.verify_arch} chooses where the drift check runs, and --no-verify skips it: drop one")
    notes = unused_options(args, pairs)
    if args.verify_arch == "arm64":
        notes += arm64_notes(pairs)
    sizes = parse_sizes(args.image_size)
    if sizes and len(sizes) > 1 and args.verify_arch == "arm64":
        raise BadInput("--verify-arch arm64 checks one input size; drop it to check every size of a multi-size artifact on the host")
    extra = target_options(args)
    for target, precision in pairs:
        get_converter(target).check_options(precision, int8_options(extra, target, precision, None))
        if sizes:
            get_converter(target).check_sizes(precision, int8_options(extra, target, precision, None), sizes)
    if args.target != "all":  # with all, a missing toolchain skips its target instead
        for target in dict.fromkeys(t for t, _ in pairs):
            get_converter(target).check_available()
    return notes


ARM64_TARGETS = ("tflite", "onnx", "executorch")
"""The targets whose runtimes run on emulated ARM64 (see mvedge/verify/runners/arm64.py)."""


def arm64_notes(pairs: list[tuple[str, str]]) -> list[str]:
    """--verify-arch arm64: refused when no pair can run there, a note for those that cannot."""
    others = sorted({t for t, _ in pairs if t not in ARM64_TARGETS})
    if len(others) == len({t for t, _ in pairs}):
        raise BadInput(f"--verify-arch arm64 checks {', '.join(ARM64_TARGETS)} artifacts; this run converts only {', '.join(others)}: drop it")
    if others:
        return [f"--verify-arch arm64 applies to {', '.join(t for t in ARM64_TARGETS)}; "
                + ", ".join({"coreml": "coreml is checked on the host's MIL interpreter"}[t] for t in others)]
    return []


def artifact_paths(bundle: ModelBundle, pairs: list[tuple[str, str]], out: Path, extra: dict | None = None) -> list[Path]:
    """Where each pair's artifact goes (its name carries the options that pair uses)."""
    qat = bundle.extra.get("qat")
    return [
        out / pipeline.artifact_name(bundle, t, p, get_converter(t).suffix, int8_options(extra or {}, t, p, qat)) for t, p in pairs
    ]


def refuse_existing(
    bundle: ModelBundle, pairs: list[tuple[str, str]], out: Path, reports: Sequence[Path] = (), extra: dict | None = None
) -> None:
    """Without --force, an artifact, sidecar or report already there is refused before any work,
    not after minutes of conversion."""
    existing = [p for p in artifact_paths(bundle, pairs, out, extra) if p.exists() or sidecar_path(p).exists()]
    existing += [p for p in reports if p.exists()]
    if existing:
        raise BadInput(f"{existing[0]} already exists; pass --force to overwrite it or --out to choose another folder")


@dataclass
class Job:
    """A checked request: the model, the pairs to build, and where the artifacts go."""

    bundle: ModelBundle
    pairs: list[tuple[str, str]]
    out: Path
    progress: Progress = field(default_factory=Progress)
    calibration: np.ndarray | None = None
    images: tuple[np.ndarray, np.ndarray | None, str] | dict | None = None  # a dict by (height, width) for several sizes

    @property
    def qat(self) -> dict | None:
        """What `mvedge qat` recorded in the checkpoint, if it is one."""
        return self.bundle.extra.get("qat")


def prepare(args: argparse.Namespace, out: Path, reports: Sequence[Path] = ()) -> Job:
    """The plan, its checks, the model, and the refusal of existing outputs: everything that can
    fail on bad input, before any conversion."""
    pairs = plan(args.target, args.precision)
    notes = check_request(args, pairs)
    check_output_folder(out)
    wanted = getattr(args, "outputs", None), getattr(args, "stages", None)
    parse_outputs(*wanted)  # a bad choice is refused before the model loads
    bundle = model_from_options(args.weights, args.variant, args.image_size, args.labels, args.num_classes, backbone=wanted[0] == "stages")
    backbone = is_backbone(bundle.model)
    bundle.outputs = parse_outputs(*wanted, backbone=backbone, **({"default_stages": bundle.model.out_indices} if backbone else {}))
    if args.exclude:  # block names checked against this model now, not after a float conversion
        resolve_exclusions(bundle.model, args.exclude.split(","))
    if not args.force:
        refuse_existing(bundle, pairs, out, reports, target_options(args))
    job = Job(bundle, pairs, out)
    for note in [left_out(args.target, args.precision, pairs), *notes]:
        if note:
            job.progress.note(note)
    return job


def load_images(job: Job, args: argparse.Namespace) -> None:
    """Say what a QAT checkpoint means for the plan, then load the calibration images (when a pair
    needs them) and the verification images (unless --no-verify), once for every pair."""
    if job.qat:
        other = sorted({t for t, p in job.pairs if p == "int8" and t != job.qat.get("target")})
        job.progress.note(
            f"QAT checkpoint tuned for {job.qat.get('target')} int8"
            + (f"; {', '.join(other)} int8 use their own recipe without QAT's benefit" if other else "")
        )
    if any(p in get_converter(t).calibrated for t, p in job.pairs):
        with job.progress.stage("loading calibration images"):
            job.calibration = mvedge.data.calibration.calibration_set(job.bundle, args.calibration, args.calibration_limit)
    if not args.no_verify:
        with job.progress.stage("loading verification images"):
            if job.bundle.more_sizes:  # a multi-size artifact is checked at each size
                job.images = {size: mvedge.verify.data.verification_set(job.bundle.at_size(size), args.images, args.limit) for size in job.bundle.sizes}
            else:
                job.images = mvedge.verify.data.verification_set(job.bundle, args.images, args.limit)


@dataclass
class Outcome:
    """What happened to one pair: verified / converted (with the artifact), failed or skipped
    (with the reason, and the error for a caller that reports a lone failure as such)."""

    target: str
    precision: str
    status: str
    artifact: pipeline.Artifact | None = None
    reason: str = ""
    error: MvedgeError | None = None


def convert_each(job: Job, args: argparse.Namespace) -> Iterator[Outcome]:
    """Convert (and verify) each pair through converters.pipeline.convert, one outcome per pair;
    a failure is an outcome, not the end of the run."""
    extra = target_options(args)
    for target, precision in job.pairs:
        options = ConvertOptions(
            precision, job.bundle.image_size, calibration=job.calibration, extra=int8_options(extra, target, precision, job.qat),
            more_sizes=list(job.bundle.more_sizes),
        )
        try:
            artifact = pipeline.convert(
                job.bundle, target, precision, job.out, options, args.force, not args.no_verify, job.images, job.progress,
                verify_arch=args.verify_arch,
            )
        except MissingExtra as exc:
            yield Outcome(target, precision, "skipped", reason=str(exc), error=exc)
        except MvedgeError as exc:  # ConversionError, or a quantizer's refusal or failure
            yield Outcome(target, precision, "failed", reason=str(exc), error=exc)
        else:
            status = "verified" if artifact.drift is not None else "converted"
            yield Outcome(target, precision, status, artifact, reason="" if artifact.drift is not None else artifact.verify_note)
