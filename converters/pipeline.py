"""convert -> verify -> sidecar -> rename: the one flow every target goes through.

Artifacts are written under a temporary folder next to the destination and renamed into place
only when everything succeeded, so a failed or refused conversion leaves nothing behind. The
sidecar is built once in memory, the artifact is verified with it, and it is written once,
complete and atomically, next to the staged artifact before both are renamed into place.
"""

from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import mvedge
from converters.base import BadRequest, ConversionError, ConversionResult, ConvertOptions
from converters.registry import get_converter
from mvedge.atomic import move_into_place, staging_folder
from mvedge.artifact import InputSpec, OutputSpec, Sidecar, sha256_of, sidecar_path, size_of, write_sidecar
from mvedge.model.bundle import OWN_LABELS, ModelBundle, weights_license
from mvedge.model.outputs import choice_of, output_specs, stage_source
from mvedge.progress import Progress
from mvedge.verify.check import verify_artifact
from mvedge.model.sizes import size_tag
from mvedge.verify.metrics import Drift, worst_size
from mvedge.verify.runners.arm64 import emulated_cpu
from mvedge.verify.runners.base import RuntimeUnavailable
from mvedge.verify.thresholds import failures


class VerificationFailed(ConversionError):
    """The artifact drifted past its precision's threshold; nothing was written."""


@dataclass
class Artifact:
    """A finished artifact: where it is, what it is, how it did."""

    path: Path
    target: str
    precision: str
    size_bytes: int
    convert_seconds: float
    drift: Drift | None
    sidecar: Sidecar
    verify_note: str = ""


NAME_TAGS = {  # target option -> its tag in artifact names (the value decides whether it has one)
    "nhwc": lambda v: "nhwc" if v else None,
    "io_dtype": lambda v: f"io_{v}" if v and v != "float32" else None,
    "tensor_input": lambda v: "tensor" if v else None,
    "via": lambda v: v if v and v != "litert-torch" else None,
    "minimum_target": lambda v: str(v).lower() if v and str(v).lower() != "ios17" else None,
    "scan_fp32": lambda v: "scanfp32" if v else None,
    "all_integer": lambda v: "allint" if v else None,
    "observer": lambda v: v or None,
    "exclude": lambda v: "excl" + hashlib.sha256(",".join(sorted(_names(v))).encode()).hexdigest()[:6] if _names(v) else None,
}


def _names(value: Any) -> list[str]:
    names = value.split(",") if isinstance(value, str) else list(value or ())
    return [str(n).strip() for n in names if str(n).strip()]


def artifact_name(bundle: ModelBundle, target: str, precision: str, suffix: str, extra: dict[str, Any] | None = None) -> str:
    """File name of an artifact, so that different content never shares a name:
    'mambavision-<model>[-random|-<weights>[-head<N>]]-<size>-<target>-<precision>[-features|-stages<list>][-<option tags>][-labels<hash>]<suffix>':
    `<weights>` is the first 8 hex digits of the sha256 of the checkpoint file the weights came
    from (none for the embedded model or random weights), followed by `head<N>` when --num-classes
    gave the checkpoint a new N-class head; `<size>` is the input side (224), HxW (256x320) when
    not square, or every size joined by '_' for a multi-size artifact (224_256x320); `features` / `stages123` name outputs other than the
    logits (--outputs); the tags name each target option that
    changes the artifact (nhwc, io_int8, tensor, onnx2tf, ios16, scanfp32, allint, the observer,
    excl<hash of the excluded blocks>); `labels<hash>` marks class names given with --labels that
    differ from the model's own, e.g. 'mambavision-t-random-224-tflite-int8-nhwc-io_int8.tflite',
    'mambavision-digits-128-onnx-fp32.onnx', 'mambavision-t-3f2a9c01-224-coreml-fp16.mlpackage'."""
    model = bundle.name.lower()
    parts = [model if model.startswith("mambavision") else f"mambavision-{model}"]
    if bundle.random_weights:
        parts.append("random")
    checkpoint = _source_sha256(bundle)
    if checkpoint:
        parts.append(checkpoint[:8])
    if getattr(bundle, "extra", {}).get("untrained_head"):
        parts.append(f"head{bundle.config['num_classes']}")
    parts += [bundle.size_label, target, precision]
    outputs_tag = choice_of(bundle).tag
    if outputs_tag:
        parts.append(outputs_tag)
    for key, tag in NAME_TAGS.items():
        value = tag((extra or {}).get(key))
        if value:
            parts.append(value)
    if getattr(bundle, "extra", {}).get(OWN_LABELS) and bundle.labels:
        parts.append("labels" + hashlib.sha256("\n".join(bundle.labels).encode()).hexdigest()[:8])
    return "-".join(parts) + suffix


def build_sidecar(bundle: ModelBundle, target: str, precision: str, options: ConvertOptions, result: ConversionResult, versions: dict) -> Sidecar:
    """The metadata written next to the artifact (apps and `mvedge verify` read it); the fields
    known only after writing and checking the artifact (sha256 ... verification) are left empty."""
    channels = bundle.config["in_channels"]
    height, width = options.size
    shape = [options.batch, height, width, channels] if result.input_layout == "NHWC" else [options.batch, channels, height, width]
    several = options.multi_size
    outputs = output_list(bundle, options, result)
    conversion = dict(result.metadata)
    if choice_of(bundle).kind == "stages":
        conversion["stage_maps"] = stage_source(bundle.model)
    return Sidecar(
        mvedge_version=mvedge.__version__,
        model=bundle.name,
        source=bundle.source,
        domain=bundle.domain,
        config=bundle.config,
        target=target,
        precision=precision,
        license=weights_license(bundle),
        source_sha256=_source_sha256(bundle),
        input=InputSpec(
            result.input_name, shape, result.input_layout, result.input_dtype, options.batch, result.input_quantization,
            dynamic_batch=result.dynamic_batch, color_layout=result.color_layout,
            sizes=[list(s) for s in options.sizes] if several else None, methods=result.methods if several else None,
        ),
        output=outputs[0],
        outputs=outputs,
        preprocessing=bundle.preprocessing.to_dict(),
        labels=bundle.labels if choice_of(bundle).kind == "logits" else None,
        toolchain=versions,
        options={k: v for k, v in options.extra.items() if isinstance(v, (str, int, float, bool, type(None)))},
        conversion=conversion,
    )


def output_list(bundle: ModelBundle, options: ConvertOptions, result: ConversionResult) -> list[OutputSpec]:
    """Every output of the artifact in output order: name, shape, stride, channels, layout and
    dtype; the logits keep the single output's shape (batch, classes or features) they always had."""
    specs = output_specs(choice_of(bundle), bundle.config, options.batch, *options.size)
    names = result.output_names or [result.output_name]
    dtypes = result.output_dtypes or [result.output_dtype] * len(names)
    if len(names) != len(specs):
        raise ConversionError(f"the {len(names)} outputs the converter reports differ from the {len(specs)} asked for")
    if choice_of(bundle).kind == "logits":
        specs[0]["shape"] = [options.batch, mvedge.output_size(bundle.config)]
    return [
        OutputSpec(
            spec["shape"], result.output_quantization if len(specs) == 1 else None, name=name, dtype=dtype,
            dynamic_batch=result.dynamic_batch, stride=spec["stride"], channels=spec["channels"], layout=spec["layout"],
        )
        for spec, name, dtype in zip(specs, names, dtypes)
    ]


def _source_sha256(bundle: ModelBundle) -> str | None:
    """sha256 of the checkpoint file the weights came from (a Hub download's cached file included);
    None for embedded or random weights."""
    source = str(getattr(bundle, "source_file", None) or getattr(bundle, "source", "") or "")
    if source in ("", "embedded", "random") or not Path(source).is_file():
        return None
    stat = Path(source).stat()
    return _file_sha256(str(Path(source).resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of a file, hashed once per (path, size, modification time): a checkpoint of hundreds
    of MB is named and described by every pair of a run."""
    return sha256_of(path)


def convert(
    bundle: ModelBundle,
    target: str,
    precision: str,
    out_dir: str | Path,
    options: ConvertOptions | None = None,
    force: bool = False,
    verify: bool = True,
    images: tuple[np.ndarray, np.ndarray | None, str] | dict | None = None,
    progress: Progress | None = None,
    verify_arch: str = "host",
) -> Artifact:
    """Convert `bundle` for `target` at `precision` into `out_dir`, verify it unless told not to
    (on emulated ARM64 kernels with `verify_arch` "arm64", except Core ML, which has no runtime
    there and stays on the host), write its sidecar, and move both into place. Raises ConversionError (or its subclasses
    MissingExtra, VerificationFailed) with a one-line message; leaves nothing partial. A
    multi-size artifact is checked at every size (`images`: a dict of (height, width) -> images,
    loaded here for a size it lacks); the worst size decides."""
    converter = get_converter(target)
    converter.check_precision(precision)
    converter.check_available()
    options = options or ConvertOptions(precision=precision, image_size=bundle.image_size)
    options.precision = precision
    if not options.more_sizes:
        options.more_sizes = list(bundle.more_sizes)
    converter.check_sizes(precision, options.extra, options.sizes)
    progress = (progress or Progress()).child(f"{target} {precision}")
    if precision in converter.calibrated and options.calibration is None:
        from mvedge.data.calibration import calibration_set

        with progress.stage("loading calibration images"):
            options.calibration = calibration_set(bundle)
    out_dir = Path(out_dir)
    final = out_dir / artifact_name(bundle, target, precision, converter.suffix, options.extra)
    final_sidecar = sidecar_path(final)
    if (final.exists() or final_sidecar.exists()) and not force:
        raise BadRequest(f"{final} already exists; pass --force to overwrite it or --out to choose another folder")
    with staging_folder(out_dir) as staging:
        temp_path = staging / final.name
        start = time.perf_counter()
        with progress.stage("converting"):
            result = converter.convert(bundle, options, temp_path, progress)
        seconds = time.perf_counter() - start
        if not temp_path.exists():
            raise ConversionError(f"the {target} converter reported success but wrote no artifact")
        sidecar = build_sidecar(bundle, target, precision, options, result, converter.toolchain_versions())
        drift, note = None, "not verified (--no-verify)"
        if verify:
            arch = "host" if target == "coreml" else verify_arch
            try:
                drift = _verify_sizes(temp_path, bundle, options, sidecar, images, progress, arch)
            except RuntimeUnavailable as exc:
                note = f"not verified: {exc}"
                progress.note(note)
            else:
                problems = failures(drift, precision)
                if problems:
                    raise VerificationFailed(
                        f"{target} {precision} artifact drifts past its threshold ({'; '.join(problems)}); nothing was written"
                    )
                note = f"verified on emulated ARM64 (qemu -cpu {emulated_cpu(target)})" if arch == "arm64" else "verified"
        sidecar.sha256 = sha256_of(temp_path)
        sidecar.size_bytes = size_of(temp_path)
        sidecar.convert_seconds = round(seconds, 2)
        sidecar.drift = drift.to_dict() if drift else None
        sidecar.verification = note
        write_sidecar(temp_path, sidecar)
        move_into_place(temp_path, final)
        move_into_place(sidecar_path(temp_path), final_sidecar)
        return Artifact(final, target, precision, sidecar.size_bytes, seconds, drift, sidecar, note)


def _verify_sizes(path: Path, bundle: ModelBundle, options: ConvertOptions, sidecar: Sidecar, images, progress: Progress, arch: str) -> Drift:
    """The drift of the artifact at each of its sizes (its method or signature for that size);
    for several sizes, the worst size's numbers with every size's under `sizes`."""
    where = " on emulated ARM64" if arch == "arm64" else ""
    drifts = {}
    for index, size in enumerate(options.sizes):
        at = bundle.at_size(size) if options.multi_size else bundle
        given = images.get(size) if isinstance(images, dict) else images
        batch, labels, description = given or _default_images(at)
        runner = {"arch": arch}
        if options.multi_size:
            runner["method"] = sidecar.input.methods[index] if sidecar.input.methods else None
        label = f" at {size_tag(size)}" if options.multi_size else ""
        with progress.stage(f"verifying on {description}{label}{where}"):
            drifts[size_tag(size)] = verify_artifact(path, at, batch, labels, sidecar=sidecar, progress=progress, **runner)
    return worst_size(drifts) if len(drifts) > 1 else next(iter(drifts.values()))


def _default_images(bundle: ModelBundle):
    from mvedge.verify.data import verification_set

    return verification_set(bundle)
