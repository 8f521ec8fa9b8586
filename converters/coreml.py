"""CoreML: torch.export -> coremltools ML program (.mlpackage), checked on Linux by mvedge's MIL interpreter.

The artifact takes an RGB image (normalisation folded in: ImageType scale/bias, plus the
per-channel part of 1/std folded into the first convolution's weights) unless `tensor_input` is
set, and, when the model has labels, is a Core ML classifier (`classLabel`, `classLabel_probs`
with softmax probabilities) that Xcode previews and Vision use directly; the raw `logits` stay an
output for drift checks. Precisions: fp32, fp16, w8 (fp16 compute + int8 per-channel weights),
palette6 / palette4 (6-/4-bit k-means palettized weights, fp16 compute), int8 (W8A8: ExecuTorch's
CoreMLQuantizer calibrated in PyTorch, then iOS17 quantize/dequantize ops; the recipe lives in
mvedge.quant.recipes; `observer` and `exclude` options as for the other int8 targets). Options
(`ConvertOptions.extra`): minimum_target (default iOS17), tensor_input, scan_fp32 (keep the
selective scan's ops in fp32 inside an fp16 program), classifier (default: when labels exist),
weight_threshold (smallest weight tensor that is compressed).

Two coremltools 9.0 bugs are worked around (mvedge.upstream): the torch.export gelu converter
ignores `approximate="tanh"` (`coreml_gelu_reads_approximate_keyword`), and a classifier on a
two-output program with a target >= iOS16 fails with IndexError (`coreml_ml_program_in_two_steps`).
coremltools is imported without its TensorFlow probe (`coremltools_without_tensorflow`).
"""

from __future__ import annotations

import copy
import inspect
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import mvedge
from converters.base import BadRequest, ConversionError, ConversionResult, Converter, ConvertOptions, MissingExtra
from mvedge import upstream
from mvedge.errors import MvedgeError
from mvedge.model import scan as scan_module
from mvedge.model.blocks import block_output_nodes, block_paths
from mvedge.model.any_size import export_any_size
from mvedge.model.bundle import ModelBundle, total_stride
from mvedge.model.outputs import choice_of, export_model, exported_paths
from mvedge.progress import Progress
from mvedge.quiet import silenced

DEFAULT_TARGET = "iOS17"
TARGETS = ("iOS15", "iOS16", "iOS17", "iOS18", "macOS12", "macOS13", "macOS14", "macOS15")
COMPRESSED_NEEDS = "iOS16"  # constexpr (compressed-weight) ops exist from iOS16 / macOS13
WEIGHT_THRESHOLD = 2048
"""Default smallest weight tensor (elements) that w8 / palette compress: coremltools' default, kept
by measurement. On the embedded digits model, also compressing the weights under 2048 elements
(stem conv, head, x_proj, dt_proj: 8 more tensors) saved nothing measurable (0.73 / 0.58 / 0.43 MB
either way) but lowered PSNR from 59.8 to 50.3 dB (w8), 46.2 to 42.8 dB (palette6) and 34.8 to
31.1 dB (palette4) (benchmarks/results/convert_coreml_embedded*_verified.json). At MambaVision-T
every conv/linear weight but the stem conv has >= 2048 elements, so sizes are the same there."""
COMPRESS_OPS = ("conv", "linear", "matmul")
"""Ops whose constant weights w8 / palette compress. coremltools' default compresses every constant
of rank >= 2 above the threshold, which includes the selective scan's decay matrix A = -exp(A_log)
(2560 elements per stage-4 mixer in MambaVision-T): a precaution, not a measured need (A is below
the threshold in the small models); its errors would compound through exp(delta * A) along the
sequence, and it is tiny, so it stays fp16."""
INPUT_NAME = "image"
CONVERSION_DATE_KEY = "com.github.apple.coremltools.conversion_date"
DEBUG_MAPPING = "executorch_debug_handle_mapping.json"
"""coremltools writes this ExecuTorch debug-handle map into every package converted from a
torch.export program that carries debug handles; Core ML does not read it, so it is removed."""
LICENSE_APACHE = "mvedge code: Apache-2.0."
LICENSE_NVIDIA = (
    "MambaVision weights are NVIDIA's (official checkpoints: NVIDIA Source Code License-NC, non-commercial); "
    "check the license of the weights before shipping this model."
)


@dataclass(frozen=True)
class CoreMLOptions:
    """The target-specific options, validated (from `ConvertOptions.extra`)."""

    minimum_target: str = DEFAULT_TARGET
    tensor_input: bool = False
    scan_fp32: bool = False
    classifier: bool | None = None  # None: when the bundle has labels
    weight_threshold: int = WEIGHT_THRESHOLD

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> "CoreMLOptions":
        """Read and check the CoreML keys of `extra` (other keys belong to other targets)."""
        given = str(extra.get("minimum_target") or DEFAULT_TARGET)
        target = {t.lower(): t for t in TARGETS}.get(given.lower(), given)  # ios17, IOS17, iOS17: the same
        if target not in TARGETS:
            raise BadRequest(f"unknown CoreML minimum_target {given!r}; choose one of {', '.join(TARGETS)}")
        threshold = extra.get("weight_threshold", WEIGHT_THRESHOLD)
        if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 0:
            raise BadRequest(f"weight_threshold must be a non-negative integer (elements), got {threshold!r}")
        classifier = extra.get("classifier")
        return cls(
            minimum_target=target,
            tensor_input=_flag(extra, "tensor_input"),
            scan_fp32=_flag(extra, "scan_fp32"),
            classifier=None if classifier is None else _flag(extra, "classifier"),
            weight_threshold=threshold,
        )


def _flag(extra: dict[str, Any], key: str) -> bool:
    value = extra.get(key, False)
    if isinstance(value, str):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off", ""):
            return False
        raise BadRequest(f"option {key} must be true or false, got {value!r}")
    return bool(value)


# ------------------------------------------------------------------ image input: normalisation folded in


@dataclass(frozen=True)
class ImageNormalisation:
    """x_norm[c] = (pixel[c] / 255 - mean[c]) / std[c] as Core ML ImageType scale/bias and a
    per-channel factor: x_norm[c] = ratio[c] * (scale * pixel[c] + bias[c])."""

    scale: float
    bias: tuple[float, ...]
    ratio: tuple[float, ...]  # all 1.0 when std is the same for every channel

    @classmethod
    def from_mean_std(cls, mean: tuple[float, ...], std: tuple[float, ...]) -> "ImageNormalisation":
        """ImageType holds one scalar scale: use the mean std there, the remaining ratio per channel."""
        reference = float(np.mean(std))
        return cls(
            scale=1.0 / (255.0 * reference),
            bias=tuple(-float(m) / reference for m in mean),
            ratio=tuple(reference / float(s) for s in std),
        )

    @property
    def uniform(self) -> bool:
        """True when no per-channel factor is needed."""
        return all(abs(r - 1.0) < 1e-12 for r in self.ratio)


def fold_input_ratio(model: nn.Module, ratio: tuple[float, ...]) -> nn.Module | None:
    """A copy of `model` whose first convolution absorbs a per-input-channel factor, or None when
    the model does not start with a convolution. Exact: conv(W, r * y) = conv(W * r, y), and the
    zero padding of r * y is the zero padding of y."""
    patch_embed = getattr(model, "patch_embed", None)
    stem = getattr(patch_embed, "conv_down", None)
    if not (isinstance(getattr(patch_embed, "proj", None), nn.Identity) and isinstance(stem, nn.Sequential) and len(stem)):
        return None
    first = stem[0]
    if not isinstance(first, nn.Conv2d) or first.groups != 1 or first.in_channels != len(ratio):
        return None
    folded = copy.deepcopy(model)
    with torch.no_grad():
        factor = torch.tensor(ratio, dtype=first.weight.dtype).reshape(1, -1, 1, 1)
        folded.patch_embed.conv_down[0].weight.mul_(factor)
    return folded


class ExportModule(nn.Module):
    """What gets exported: optional per-channel input factor, the model, optional softmax output."""

    def __init__(self, model: nn.Module, ratio: tuple[float, ...] | None = None, probabilities: bool = False) -> None:
        super().__init__()
        self.model = model
        self.probabilities = probabilities
        if ratio is not None:
            self.register_buffer("ratio", torch.tensor(ratio, dtype=torch.float32).reshape(1, -1, 1, 1))
        else:
            self.ratio = None

    def forward(self, x: torch.Tensor):
        if self.ratio is not None:
            x = x * self.ratio
        logits = self.model(x)
        if self.probabilities:
            return logits, torch.softmax(logits, dim=-1)
        return logits


# ------------------------------------------------------------------ scan ops kept in fp32

SCAN_SOURCE = inspect.getsourcefile(scan_module) or "mvedge/model/scan.py"


def is_scan_op(op: Any) -> bool:
    """Whether a MIL op comes from the selective scan: its torch.export stack trace passes
    through mvedge/model/scan.py (the scan module and its stable softplus)."""
    from coremltools.converters.mil.mil.scope import ScopeSource

    trace = op.scopes.get(ScopeSource.EXIR_STACK_TRACE) if getattr(op, "scopes", None) else None
    return bool(trace) and any(SCAN_SOURCE in str(frame) for frame in trace)


# ------------------------------------------------------------------ the converter


PRECISIONS = {
    "fp32": "float32 weights and compute",
    "fp16": "float16 weights and compute (Core ML's default for ML programs)",
    "w8": "int8 per-channel linear weights, float16 compute",
    "palette6": "6-bit palettized weights (k-means, 64-entry LUT per tensor), float16 compute",
    "palette4": "4-bit palettized weights (k-means, 16-entry LUT per tensor), float16 compute",
    "int8": "W8A8: int8 per-channel weights and int8 activations (ExecuTorch's CoreMLQuantizer, PT2E, calibrated); "
    "selective scan, norms and softmax in fp16; iOS17+",
}
ACTIVATION_QUANT_NEEDS = ("iOS17", "iOS18", "macOS14", "macOS15")  # quantize/dequantize ops are iOS17 opset


class CoreMLConverter(Converter):
    """MambaVision -> .mlpackage (ML program) with image input and classifier output."""

    target = "coreml"
    suffix = ".mlpackage"
    precisions = PRECISIONS
    extra = "coreml"
    modules = ("coremltools",)
    packages = ("coremltools", "scikit-learn", "executorch", "torchao")
    calibrated = frozenset({"int8"})
    reads = {
        "minimum_target": None,
        "tensor_input": None,
        "scan_fp32": tuple(p for p in PRECISIONS if p != "fp32"),  # the fp16 compute precisions
        "observer": ("int8",),
        "exclude": ("int8",),
    }

    def check_options(self, precision: str, extra: dict[str, Any]) -> dict[str, Any]:
        """The minimum target (any case, canonical spelling) and the flags, checked."""
        opts = CoreMLOptions.from_extra(extra)
        if precision in COMPRESSED and opts.minimum_target in ("iOS15", "macOS12"):
            raise BadRequest(f"precision {precision} needs compressed-weight ops from {COMPRESSED_NEEDS}; pass --minimum-target iOS16 or later")
        if precision == "int8" and opts.minimum_target not in ACTIVATION_QUANT_NEEDS:
            raise BadRequest(f"precision int8 (activation quantization) needs iOS17 / macOS14 or later; got --minimum-target {opts.minimum_target}")
        return {**extra, "minimum_target": opts.minimum_target} if "minimum_target" in extra else dict(extra)

    def check_available(self) -> None:
        """As for every target, with coremltools imported without its TensorFlow probe."""
        with upstream.coremltools_without_tensorflow():
            super().check_available()

    def several_sizes_refusal(self, precision: str, extra: dict[str, Any]) -> str | None:
        """None: one graph with symbolic height and width takes every size (enumerated shapes on
        the input), except at int8, whose activations are calibrated at one size."""
        if precision == "int8":
            return "its activation ranges are calibrated at one size"
        return None

    def convert(self, bundle: ModelBundle, options: ConvertOptions, out_path: Path, progress: Progress) -> ConversionResult:
        opts = CoreMLOptions.from_extra(options.extra)
        plan = _plan(bundle, options, opts)
        module, quantization = plan.module, None
        if options.precision == "int8":
            module, quantization = _quantize_w8a8(plan, bundle, options, progress)
        with progress.stage("exporting (torch.export)"), silenced():
            try:
                example = options.example_input(plan.channels)
                if options.multi_size:  # one graph for every size: the input gets enumerated shapes
                    exported = export_any_size(module, example, total_stride(bundle.model), decompose=True)
                else:
                    exported = torch.export.export(module, (example,)).run_decompositions({})
            except Exception as exc:
                raise ConversionError(f"torch.export failed: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
        compute = "fp32" if options.precision == "fp32" else "fp16"
        with progress.stage(f"converting to an ML program ({compute} compute, {opts.minimum_target})"), silenced():
            mlmodel, kept_fp32 = _to_ml_program(exported, plan, options, opts)
        if opts.scan_fp32 and compute == "fp16" and not kept_fp32 and _has_scan(bundle.model):
            raise ConversionError("scan_fp32: no MIL op was traced back to the selective scan (no stack traces in the export?)")
        compression = None
        if options.precision in COMPRESSED:
            with progress.stage(f"compressing weights ({options.precision}, tensors > {opts.weight_threshold} elements)"), silenced(), \
                    upstream.coreml_symbolic_size_arithmetic():
                mlmodel, compression = _compress(mlmodel, options.precision, opts.weight_threshold)
        _describe(mlmodel, bundle, options, opts, plan)
        with progress.stage("saving .mlpackage"), silenced():
            mlmodel.save(str(out_path))
        make_reproducible(out_path)

        metadata: dict[str, Any] = {
            "minimum_target": opts.minimum_target,
            "compute_precision": compute,
            "input_kind": "image" if plan.image_input else "tensor",
            "outputs": [plan.output_name, "classLabel", "classLabel_probs"] if plan.classifier else plan.names,
            "classifier": plan.classifier,
            "ops": _op_counts(mlmodel),
            # graph node making each block's output (MIL keeps torch.export's node names): drift localisation
            "block_outputs": block_output_nodes(exported, block_paths(bundle.model)),
        }
        if plan.norm is not None:
            metadata["image"] = {
                "color_layout": "RGB",
                "scale": plan.norm.scale,
                "bias": list(plan.norm.bias),
                "channel_factor": list(plan.norm.ratio),
                "channel_factor_folded_into_first_conv": plan.folded,
            }
        if opts.scan_fp32 and compute == "fp16":
            metadata["scan_ops_kept_fp32"] = len(kept_fp32)
        if compression:
            metadata["compression"] = compression
        if quantization:
            metadata["quantization"] = quantization
            metadata["ops"] = _op_counts(mlmodel)
        return ConversionResult(
            out_path,
            input_name=INPUT_NAME,
            input_layout="NCHW",
            input_dtype="image" if plan.image_input else "float32",  # an image: 8-bit RGB pixels, normalised inside
            color_layout="RGB" if plan.image_input else None,
            output_name=plan.output_name,
            output_dtype=_output_dtype(mlmodel, plan.output_name),
            output_names=plan.output_names,
            output_dtypes=[_output_dtype(mlmodel, name) for name in plan.output_names] if plan.output_names else None,
            metadata=metadata,
        )


COMPRESSED = ("w8", "palette6", "palette4")


@dataclass
class _Plan:
    """What gets exported and how its input and outputs look."""

    module: nn.Module
    channels: int
    image_input: bool
    classifier: bool
    labels: list[str] | None
    output_name: str
    norm: ImageNormalisation | None = None
    folded: bool = False
    output_names: list[str] | None = None  # several outputs (--outputs features/stages): plain multi-arrays, no classifier

    @property
    def names(self) -> list[str]:
        """Every tensor output's name, in output order."""
        return self.output_names or [self.output_name]


def _plan(bundle: ModelBundle, options: ConvertOptions, opts: CoreMLOptions) -> _Plan:
    """Check the request against the model and decide input kind, normalisation and outputs."""
    precision = options.precision
    channels = bundle.config["in_channels"]
    if precision in COMPRESSED and opts.minimum_target in ("iOS15", "macOS12"):
        raise BadRequest(f"precision {precision} needs compressed-weight ops from {COMPRESSED_NEEDS}; pass minimum_target=iOS16 or later")
    if precision.startswith("palette"):
        _require_sklearn()
    if precision == "int8" and opts.minimum_target not in ACTIVATION_QUANT_NEEDS:
        raise BadRequest(f"precision int8 (activation quantization) needs iOS17 / macOS14 or later; got minimum_target={opts.minimum_target}")
    image_input = not opts.tensor_input
    if image_input and channels != 3:
        raise BadRequest(f"an image input needs 3 (RGB) channels, the model has {channels}; pass tensor_input=true")
    if image_input and options.batch != 1:
        raise BadRequest(f"Core ML image inputs take one image (batch 1), got batch {options.batch}; pass tensor_input=true")
    num_classes = bundle.config.get("num_classes")
    labels = list(bundle.labels) if bundle.labels and num_classes else None
    if labels is not None and len(labels) != num_classes:
        raise BadRequest(f"the model has {num_classes} classes but {len(labels)} labels")
    choice = choice_of(bundle)
    if choice.kind != "logits" and opts.classifier:
        raise BadRequest(f"a Core ML classifier outputs class probabilities; --outputs {choice.kind} gives plain multi-arrays: drop classifier=true")
    if choice.kind != "logits":
        labels = None
    # default: a classifier when there are labels and one image per call (Core ML's classify takes one)
    classifier = (labels is not None and options.batch == 1) if opts.classifier is None else opts.classifier
    if classifier and labels is None:
        raise BadRequest("classifier=true needs a model with labels (and classes); this one has none")
    if classifier and options.batch != 1:
        raise BadRequest(f"a Core ML classifier output takes one image (batch 1), got batch {options.batch}; pass classifier=false")
    model, norm, folded, ratio = bundle.model.eval(), None, False, None
    if image_input:
        norm = ImageNormalisation.from_mean_std(tuple(bundle.preprocessing.mean), tuple(bundle.preprocessing.std))
        if not norm.uniform:
            folded_model = fold_input_ratio(model, norm.ratio)
            if folded_model is not None:
                model, folded = folded_model, True
            else:
                ratio = norm.ratio
    module = ExportModule(export_model(model, choice), ratio, probabilities=classifier).eval()
    if choice.kind != "logits":
        return _Plan(module, channels, image_input, False, None, choice.names[0], norm, folded, output_names=choice.names)
    return _Plan(module, channels, image_input, classifier, labels, "logits" if num_classes else "features", norm, folded)


def _quantize_w8a8(plan: _Plan, bundle: ModelBundle, options: ConvertOptions, progress: Progress) -> tuple[nn.Module, dict[str, Any]]:
    """The export module quantized with the Core ML recipe of mvedge.quant (ExecuTorch's
    CoreMLQuantizer, PT2E static, calibrated here in PyTorch); coremltools then turns its
    quantize/dequantize pairs into iOS17 quantize/dequantize ops and int8 weight constants."""
    try:
        from mvedge.quant import pt2e
        from mvedge.quant.recipes import quant_options, recipe_for
        from mvedge.quant.regions import quant_nodes_in_scan, resolve_exclusions
    except ImportError as exc:
        raise MissingExtra(
            f"coreml int8 needs ExecuTorch's CoreMLQuantizer and torchao ({type(exc).__name__}: {exc}); "
            'install them with: pip install "mvedge[executorch,coreml]" -c constraints.txt'
        ) from exc
    if options.calibration is None or len(options.calibration) == 0:
        raise BadRequest("int8 needs calibration images; pass a folder with --calibration or let the pipeline supply them")
    try:
        observer, exclude = quant_options(options.extra)
        excluded = tuple(f"model.{path}" for path in exported_paths(resolve_exclusions(bundle.model, exclude), choice_of(bundle)))
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    recipe = recipe_for("coreml")
    observer = recipe.observer(observer)
    images = torch.from_numpy(np.ascontiguousarray(np.asarray(options.calibration, dtype=np.float32)))
    if tuple(images.shape[1:]) != (plan.channels, *options.size):
        raise BadRequest(f"calibration images have shape {tuple(images.shape[1:])}, the model needs {(plan.channels, *options.size)}")
    if plan.image_input and not plan.norm.uniform:  # the module sees (x_norm / ratio): the ImageType part only
        images = images / torch.tensor(plan.norm.ratio, dtype=images.dtype).reshape(1, -1, 1, 1)
    example = options.example_input(plan.channels)
    report: dict[str, Any] = {}
    with progress.stage(f"quantizing (PT2E CoreMLQuantizer, {observer} observer, {len(images)} calibration images)"):
        try:
            with silenced():
                converted = pt2e.quantize_ptq(plan.module, "coreml", images, example, observer, excluded, progress=progress, report=report)
        except pt2e.ToolchainMissing as exc:
            raise MissingExtra(str(exc)) from exc
    leaked = quant_nodes_in_scan(converted)
    if leaked:
        raise ConversionError(f"int8: {len(leaked)} quantize/dequantize nodes ended up inside the selective scan; report it with the toolchain versions")
    return converted, {
        "quant_recipe": recipe.to_dict(),
        "observer": observer,
        "excluded": list(resolve_exclusions(bundle.model, exclude)),
        "calibration_images": len(images),
        "quantized": report,
    }


def _to_ml_program(exported: torch.export.ExportedProgram, plan: _Plan, options: ConvertOptions, opts: CoreMLOptions) -> tuple[Any, list[str]]:
    """torch.export program -> ML program (in memory); returns it and the op types kept in fp32.
    Converted in two steps (mvedge.upstream.coreml_ml_program_in_two_steps) with the gelu fix."""
    ct = upstream.import_coremltools()

    target = getattr(ct.target, opts.minimum_target)
    kept_fp32: list[str] = []
    if options.precision == "fp32":
        compute_precision = ct.precision.FLOAT32
    elif opts.scan_fp32:

        def selector(op: Any) -> bool:
            if is_scan_op(op):
                kept_fp32.append(op.op_type)
                return False
            return True

        compute_precision = ct.transform.FP16ComputePrecision(op_selector=selector)
    else:
        compute_precision = ct.precision.FLOAT16
    shape: Any = (options.batch, plan.channels, *options.size)
    if options.multi_size:
        shape = ct.EnumeratedShapes(shapes=[(options.batch, plan.channels, *size) for size in options.sizes], default=shape)
    if plan.image_input:
        norm = plan.norm
        ct_input = ct.ImageType(name=INPUT_NAME, shape=shape, scale=norm.scale, bias=list(norm.bias), color_layout=ct.colorlayout.RGB)
    else:
        ct_input = ct.TensorType(name=INPUT_NAME, shape=shape, dtype=np.float32)
    outputs = [ct.TensorType(name=name) for name in plan.names] + ([ct.TensorType(name="probabilities")] if plan.classifier else [])
    classifier = ct.ClassifierConfig(plan.labels, predicted_probabilities_output="probabilities") if plan.classifier else None
    try:
        with upstream.coreml_gelu_reads_approximate_keyword(), upstream.coreml_symbolic_size_arithmetic():
            mlmodel = upstream.coreml_ml_program_in_two_steps(
                ct, exported, classifier, target, inputs=[ct_input], outputs=outputs, compute_precision=compute_precision
            )
    except MvedgeError:
        raise
    except Exception as exc:
        raise ConversionError(f"coremltools conversion failed: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}") from exc
    return mlmodel, kept_fp32


def _output_dtype(mlmodel: Any, name: str) -> str:
    """The element type of a multi-array output of the saved model ("float32", "float16", ...)."""
    from coremltools.proto import FeatureTypes_pb2

    names = {FeatureTypes_pb2.ArrayFeatureType.FLOAT32: "float32", FeatureTypes_pb2.ArrayFeatureType.FLOAT16: "float16",
             FeatureTypes_pb2.ArrayFeatureType.DOUBLE: "float64", FeatureTypes_pb2.ArrayFeatureType.INT32: "int32"}
    for output in mlmodel.get_spec().description.output:
        if output.name == name:
            return names.get(output.type.multiArrayType.dataType, "unknown")
    raise ConversionError(f"the Core ML model has no output {name!r}")


def _has_scan(model: nn.Module) -> bool:
    return any(isinstance(m, scan_module.SelectiveScan) for m in model.modules())


def _require_sklearn() -> None:
    try:
        import sklearn  # noqa: F401
    except Exception as exc:
        raise ConversionError(
            'palettization (k-means) needs scikit-learn: pip install "scikit-learn>=1.5" (or use precision w8)'
        ) from exc


def _compress(mlmodel: Any, precision: str, threshold: int) -> tuple[Any, dict[str, Any]]:
    """Weight compression on the ML program: int8 per-channel (w8) or k-means LUTs (palette6/4)."""
    import coremltools.optimize.coreml as cto

    if precision == "w8":
        op_config = cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8", granularity="per_channel", weight_threshold=threshold)
        recipe = {"method": "linear_quantize_weights", "mode": "linear_symmetric", "dtype": "int8", "granularity": "per_channel"}
    else:
        nbits = int(precision.removeprefix("palette"))
        op_config = cto.OpPalettizerConfig(mode="kmeans", nbits=nbits, granularity="per_tensor", weight_threshold=threshold)
        recipe = {"method": "palettize_weights", "mode": "kmeans", "nbits": nbits, "granularity": "per_tensor"}
    names = _weight_consts(mlmodel._mil_program)  # only these: the scan's A, norms and biases stay fp16
    config = cto.OptimizationConfig(global_config=None, op_name_configs={name: op_config for name in names})
    compress = cto.linear_quantize_weights if precision == "w8" else cto.palettize_weights
    compressed = compress(mlmodel, config=config)
    counts = _op_counts(compressed)
    recipe["weight_threshold"] = threshold
    recipe["compressed_tensors"] = sum(v for k, v in counts.items() if k.startswith("constexpr_"))
    return compressed, recipe


def _weight_consts(program: Any) -> list[str]:
    """Names of the constant weights (rank >= 2) of the program's conv / linear / matmul ops."""
    names = []
    for op in program.functions["main"].operations:
        if op.op_type not in COMPRESS_OPS:
            continue
        for key in ("weight", "y", "x"):
            var = op.inputs.get(key)
            if var is not None and var.op is not None and var.op.op_type == "const" and var.rank >= 2:
                names.append(var.op.name)
    return sorted(set(names))


def _op_counts(mlmodel: Any) -> dict[str, int]:
    """MIL op types of the main function and how often each occurs (consts left out)."""
    counts: dict[str, int] = {}
    function = mlmodel.get_spec().mlProgram.functions["main"]
    block = function.block_specializations[function.opset]
    for op in block.operations:
        if op.type != "const":
            counts[op.type] = counts.get(op.type, 0) + 1
    return dict(sorted(counts.items()))


def _describe(mlmodel: Any, bundle: ModelBundle, options: ConvertOptions, opts: CoreMLOptions, plan: _Plan) -> None:
    """Model description shown in Xcode: what it is, how to feed it, where it came from, license."""
    pre = bundle.preprocessing
    size = "x".join(str(side) for side in options.size)  # HxW
    precision = options.precision
    mlmodel.short_description = (
        f"MambaVision {bundle.name} ({precision}) converted by mvedge {mvedge.__version__}. "
        + (f"Input: an RGB image {size} (resize/crop as in the preprocessing metadata; mean/std normalisation is built in). " if plan.image_input
           else f"Input: a normalised float32 NCHW tensor {options.batch}x3x{size} ((pixel/255 - mean)/std). ")
        + ("Outputs: class label, class probabilities (softmax), and the raw logits." if plan.classifier else f"Output: {', '.join(plan.names)}.")
    )
    mlmodel.author = "mvedge (MambaVision by NVIDIA)"
    mlmodel.license = LICENSE_APACHE + " " + _weights_license(bundle)
    mlmodel.version = mvedge.__version__
    if plan.image_input:
        mlmodel.input_description[INPUT_NAME] = f"RGB image {size}"
    else:
        mlmodel.input_description[INPUT_NAME] = f"normalised image tensor {options.batch}x3x{size}, mean {list(pre.mean)}, std {list(pre.std)}"
    for name in plan.names:
        mlmodel.output_description[name] = (
            "raw class scores (logits)" if name == "logits" else "pooled features" if name == "features" else f"stage map {name} (NCHW)"
        )
    if plan.classifier:
        mlmodel.output_description["classLabel"] = "most likely class"
        mlmodel.output_description["classLabel_probs"] = "probability of each class (softmax of the logits)"
    meta = mlmodel.user_defined_metadata
    meta["mvedge.version"] = mvedge.__version__
    meta["mvedge.model"] = bundle.name
    meta["mvedge.variant"] = str(getattr(bundle.model, "variant", None) or bundle.name)
    meta["mvedge.source"] = bundle.source
    meta["mvedge.precision"] = precision
    meta["mvedge.minimum_target"] = opts.minimum_target
    meta["mvedge.input_kind"] = "image" if plan.image_input else "tensor"
    meta["mvedge.preprocessing"] = json.dumps(pre.to_dict())
    meta["mvedge.config"] = json.dumps(bundle.config)
    if bundle.labels and choice_of(bundle).kind == "logits":  # features and stage maps have no classes
        meta["mvedge.labels"] = json.dumps(list(bundle.labels))
    if plan.norm is not None:
        norm = plan.norm
        meta["mvedge.image_normalisation"] = json.dumps({"scale": norm.scale, "bias": list(norm.bias), "channel_factor": list(norm.ratio), "folded_into_first_conv": plan.folded})
    if opts.scan_fp32 and precision != "fp32":
        meta["mvedge.scan_fp32"] = "true"
    meta["mvedge.license_note"] = _weights_license(bundle)
    if CONVERSION_DATE_KEY in meta:  # a timestamp would make two conversions of the same input differ
        del meta[CONVERSION_DATE_KEY]


# ------------------------------------------------------------------ reproducible packages


def make_reproducible(package: Path) -> None:
    """Make a saved .mlpackage depend only on what was converted: the model spec re-serialised
    deterministically (protobuf map entries such as the metadata in key order), Manifest.json item
    identifiers derived from the item paths instead of random UUIDs, no ExecuTorch debug map, and
    the usual permissions for files and folders (coremltools' temporary files are 0600)."""
    (package / DEBUG_MAPPING).unlink(missing_ok=True)
    spec_path = _deterministic_manifest(package)
    from coremltools.proto import Model_pb2

    spec = Model_pb2.Model()
    spec.ParseFromString(spec_path.read_bytes())
    spec_path.write_bytes(spec.SerializeToString(deterministic=True))
    umask = os.umask(0)
    os.umask(umask)
    for path in [package, *package.rglob("*")]:
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def _deterministic_manifest(package: Path) -> Path:
    """Rewrite Manifest.json with each item's identifier a UUID derived from its path (the same on
    every conversion); returns the path of the root model spec."""
    manifest_path = package / "Manifest.json"
    manifest = json.loads(manifest_path.read_text())
    renamed = {old: str(uuid.uuid5(uuid.NAMESPACE_URL, "mlpackage:" + item["path"])) for old, item in manifest["itemInfoEntries"].items()}
    root = manifest["itemInfoEntries"][manifest["rootModelIdentifier"]]
    manifest["itemInfoEntries"] = {renamed[old]: item for old, item in manifest["itemInfoEntries"].items()}
    manifest["rootModelIdentifier"] = renamed[manifest["rootModelIdentifier"]]
    manifest_path.write_text(json.dumps(manifest, indent=4, sort_keys=True) + "\n")
    return package / "Data" / root["path"]


def _weights_license(bundle: ModelBundle) -> str:
    """What the weights inside the artifact are and under which terms."""
    if bundle.domain == "digits":  # the embedded model, or QAT-tuned weights of it
        return "Weights: mvedge's embedded digits model, trained by mvedge on scikit-learn's digits (Apache-2.0)."
    if bundle.source == "random":
        return "Weights: random initialisation (for timing and size only)."
    return LICENSE_NVIDIA
