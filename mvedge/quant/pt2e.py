"""PT2E quantization (torchao.quantization.pt2e) with each target's own quantizer.

Capture -> prepare (PTQ observers or QAT fake quantizers) -> calibrate or train -> convert, with
the recipe's float region enforced by `RegionQuantizer`. The deprecated torch.ao.quantization
entry points are not used.
"""

from __future__ import annotations

import contextlib
import dataclasses

import torch
from torch import Tensor, nn
from torchao.quantization.pt2e.quantizer import QuantizationSpec, Quantizer

from mvedge import upstream
from mvedge.errors import BadInput
from mvedge.progress import Progress
from mvedge.quant.recipes import recipe_for
from mvedge.quant.observers import observer_class
from mvedge.quant.regions import Region, module_types, op_name
from mvedge.quiet import silenced, silenced_imports

CALIBRATION_BATCH = 16
"""Images per calibration forward: the observers' per-call cost dominates at batch 1."""

COREML_ACTIVATION_DTYPE = torch.quint8
"""Core ML W8A8 activations: uint8 with the symmetric scheme (CoreMLQuantizer's default dtype)."""


class ToolchainMissing(BadInput):
    """A target's quantizer cannot be imported; the message names the pip extra."""


def _toolchain_error(target: str, exc: BaseException) -> ToolchainMissing:
    extra = {"executorch": "executorch", "coreml": "executorch,coreml", "tflite": "tflite"}.get(target, target)
    return ToolchainMissing(
        f"the {target} quantizer is not installed ({type(exc).__name__}: {exc}); "
        f'install it with: pip install "mvedge[{extra}]" -c constraints.txt'
    )


_OBSERVER_CTORS: dict[str, object] = {}


def _observer_ctor(name: str, qat: bool = False) -> object:
    """One constructor object per observer name (equal specs stay equal, so observers are shared
    as before). For QAT, a FakeQuantize around that observer."""
    key = f"qat-{name}" if qat else name
    if key not in _OBSERVER_CTORS:
        observer = observer_class(name).with_args(eps=2**-12)
        if qat:
            from torchao.quantization.pt2e.fake_quantize import FakeQuantize

            _OBSERVER_CTORS[key] = FakeQuantize.with_args(observer=observer)
        else:
            _OBSERVER_CTORS[key] = observer
    return _OBSERVER_CTORS[key]


def _is_activation_spec(spec: object) -> bool:
    return (
        isinstance(spec, QuantizationSpec)
        and not spec.is_dynamic
        and spec.qscheme in (torch.per_tensor_affine, torch.per_tensor_symmetric)
    )


class RegionQuantizer(Quantizer):
    """Wraps a target's PT2E quantizer: same annotations, minus those of nodes the region keeps
    float, with every static per-tensor activation observer replaced by `observer`.

    With `qat`, the activations' fake quantizers observe with that observer too (FakeQuantize
    around it) instead of the quantizers' moving averages (averaging constant 0.01, started from
    the first batch): over a short fine-tune those ranges stay close to the first batch's and
    clip later ones (measured on the digits model: a single clipped mixer concat moved the
    distillation loss from 0.001 to 0.13), and they are not the ranges the deployed model gets,
    which `mvedge convert` calibrates with min/max again. Weight fake quantizers are unchanged."""

    def __init__(self, inner: Quantizer, region: Region, observer: str | None = None, qat: bool = False) -> None:
        super().__init__()
        self.inner = inner
        self.region = region
        self.observer = observer
        self.qat = qat
        self.quantized: list[torch.fx.Node] = []  # nodes left annotated (int8 ops or their edges)
        self.kept_float: list[torch.fx.Node] = []  # nodes whose annotation the region removed

    def transform_for_annotation(self, model: torch.fx.GraphModule) -> torch.fx.GraphModule:
        return self.inner.transform_for_annotation(model)

    def annotate(self, model: torch.fx.GraphModule) -> torch.fx.GraphModule:
        if _is_coreml(self.inner):
            context = _coreml_activations_in(model)
        elif type(self.inner).__module__.startswith("litert_torch"):
            context = upstream.litert_patterns_as_modules()
        else:
            context = contextlib.nullcontext()
        with context:
            model = self.inner.annotate(model)
        for node in model.graph.nodes:
            if node.op != "call_function":
                continue
            annotated = _has_annotation(node)
            if annotated and not _floating(node):  # e.g. a training graph's num_batches_tracked += 1
                node.meta.pop("quantization_annotation")
                continue
            if self.region.keeps_float(node):
                if node.meta.pop("quantization_annotation", None) is not None and annotated:
                    self.kept_float.append(node)
            elif annotated:
                self.quantized.append(node)
        for node in _drop_dangling_sharing(model):
            self.quantized.remove(node)
            self.kept_float.append(node)
        if self.observer is not None:
            for node in self.quantized:
                self._swap_observers(node)
        return model

    def report(self) -> dict[str, dict[str, int]]:
        """What the recipe did to the graph: annotated (quantized) ops by op name and by module
        type, and the ops the quantizer would have quantized but the region kept float."""
        return {
            "quantized_ops": _count(op_name(n) for n in self.quantized),
            "quantized_in_modules": _count(t for n in self.quantized for t in set(module_types(n))),
            "kept_float_ops": _count(op_name(n) for n in self.kept_float),
            "kept_float_in_modules": _count(t for n in self.kept_float for t in set(module_types(n))),
        }

    def _swap_observers(self, node: torch.fx.Node) -> None:
        annotation = node.meta.get("quantization_annotation")
        if annotation is None:
            return
        ctor = _observer_ctor(self.observer, self.qat)
        for source, spec in list(annotation.input_qspec_map.items()):
            if _is_activation_spec(spec) and not (isinstance(source, torch.fx.Node) and source.op == "get_attr"):
                annotation.input_qspec_map[source] = dataclasses.replace(spec, observer_or_fake_quant_ctr=ctor)
        if _is_activation_spec(annotation.output_qspec):
            annotation.output_qspec = dataclasses.replace(annotation.output_qspec, observer_or_fake_quant_ctr=ctor)

    def validate(self, model: torch.fx.GraphModule) -> None:
        self.inner.validate(model)



def _refers_to_unannotated(spec: object) -> bool:
    """Whether a shared / derived spec points at a node or edge whose annotation was removed."""
    from torchao.quantization.pt2e.quantizer import DerivedQuantizationSpec, SharedQuantizationSpec

    if isinstance(spec, SharedQuantizationSpec):
        targets = [spec.edge_or_node]
    elif isinstance(spec, DerivedQuantizationSpec):
        targets = list(spec.derived_from)
    else:
        return False
    for target in targets:
        node = target[1] if isinstance(target, tuple) else target  # an edge's spec lives on its consumer
        annotation = node.meta.get("quantization_annotation")
        if annotation is None:
            return True
        if isinstance(target, tuple) and target[0] not in annotation.input_qspec_map:
            return True
    return False


def _drop_dangling_sharing(model: torch.fx.GraphModule) -> list[torch.fx.Node]:
    """Remove the annotation of every node that shares qparams with (or derives them from) a node
    whose annotation the region removed, until none is left; returns those nodes. Quantizers
    propagate shared specs across a block's boundary (e.g. a reshape after a block's last add),
    so excluding a block leaves such references dangling, which prepare_pt2e cannot resolve."""
    dropped: list[torch.fx.Node] = []
    changed = True
    while changed:
        changed = False
        for node in model.graph.nodes:
            annotation = node.meta.get("quantization_annotation")
            if annotation is None:
                continue
            specs = list(annotation.input_qspec_map.values()) + [annotation.output_qspec]
            if any(_refers_to_unannotated(spec) for spec in specs):
                node.meta.pop("quantization_annotation")
                if _has_annotation_values(annotation):
                    dropped.append(node)
                changed = True
    return dropped


def _has_annotation_values(annotation: object) -> bool:
    return bool(annotation.input_qspec_map) or annotation.output_qspec is not None


def _floating(node: torch.fx.Node) -> bool:
    """Whether a node's output (when its type is recorded) is a floating-point tensor. CoreMLQuantizer's
    add pattern also matches the integer `num_batches_tracked + 1` of training-mode batch norms,
    whose fake quantizer then fails ('not implemented for Long')."""
    value = node.meta.get("val")
    return not isinstance(value, torch.Tensor) or value.dtype.is_floating_point


def _has_annotation(node: torch.fx.Node) -> bool:
    """Whether the quantizer asked for any int8 tensor at this node (input or output)."""
    annotation = node.meta.get("quantization_annotation")
    if annotation is None:
        return False
    return bool(annotation.input_qspec_map) or annotation.output_qspec is not None


def _count(names) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def _is_coreml(quantizer: Quantizer) -> bool:
    return type(quantizer).__name__ == "CoreMLQuantizer"


def _coreml_activations_in(model: torch.fx.GraphModule) -> contextlib.AbstractContextManager:
    """While CoreMLQuantizer annotates `model`, offer it only the fused-activation patterns whose
    activation occurs in the graph (mvedge.upstream: ~60 s of pattern exports otherwise)."""
    present = {op_name(node).rstrip("_") for node in model.graph.nodes if node.op == "call_function"}
    return upstream.coreml_quantizer_only_present_activations(present)


def target_quantizer(target: str, qat: bool = False):
    """A fresh instance of the target's own PT2E quantizer (per-channel int8 weights)."""
    recipe_for(target)  # BadInput for targets without int8
    try:
        if target == "executorch":
            with silenced_imports():
                from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import XNNPACKQuantizer, get_symmetric_quantization_config

            return XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_qat=qat))
        if target == "coreml":
            with silenced_imports(), upstream.coremltools_without_tensorflow():
                from coremltools.optimize.torch.quantization.quantization_config import LinearQuantizerConfig
                from executorch.backends.apple.coreml.quantizer import CoreMLQuantizer

            config = LinearQuantizerConfig.from_dict(
                {
                    "global_config": {
                        "quantization_scheme": "symmetric",
                        "activation_dtype": COREML_ACTIVATION_DTYPE,
                        "weight_dtype": torch.qint8,
                        "weight_per_channel": True,
                    }
                }
            )
            return CoreMLQuantizer(config)
        with silenced_imports():
            from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config

        return PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_qat=qat))
    except ImportError as exc:
        raise _toolchain_error(target, exc) from exc


def recipe_quantizer(
    target: str, qat: bool = False, observer: str | None = None, exclude: tuple[str, ...] = (), only: tuple[str, ...] | None = None
) -> RegionQuantizer:
    """The target's quantizer restricted to its recipe: float region, exclusions, observer (QAT:
    min/max fake quantizers, the ranges `mvedge convert` calibrates QAT checkpoints with)."""
    recipe = recipe_for(target)
    chosen = "minmax" if qat else recipe.observer(observer)
    return RegionQuantizer(target_quantizer(target, qat), recipe.region(exclude, only), chosen, qat)


def capture(model: nn.Module, images: Tensor, example: Tensor) -> tuple[torch.fx.GraphModule, int]:
    """The model captured for PT2E with a dynamic batch, so calibration runs CALIBRATION_BATCH
    images per call (about 2x faster than one by one at 224 px); falls back to the example's
    static batch when the model does not export with a dynamic one. Returns (module, batch)."""
    pair = images[:2] if len(images) >= 2 else images.repeat(2, 1, 1, 1)
    try:
        batch = torch.export.Dim("batch", min=1, max=1024)
        module = torch.export.export(model, (pair,), dynamic_shapes=({0: batch},), strict=False).module()
        return module, CALIBRATION_BATCH
    except Exception:  # data-dependent reshapes: calibrate in the artifact's own batch size
        return torch.export.export(model, (example,), strict=False).module(), example.shape[0]


def capture_for_training(model: nn.Module, example: Tensor) -> torch.fx.GraphModule:
    """The model captured in training mode with a dynamic batch (>= 2), as prepare_qat_pt2e
    expects (its conv-batchnorm fusion matches training-mode batch norms)."""
    was_training = model.training
    model.train()
    try:
        pair = example[:2] if len(example) >= 2 else example.repeat(2, 1, 1, 1)
        batch = torch.export.Dim("batch", min=2, max=4096)
        return torch.export.export(model, (pair,), dynamic_shapes=({0: batch},), strict=False).module()
    finally:
        model.train(was_training)


def calibrate(prepared: torch.fx.GraphModule, images: Tensor, step: int, progress: Progress | None = None) -> int:
    """Run the calibration images through the observers, `step` at a time (a static-batch capture
    gets its last batch topped up by repeating images); returns how many images were seen."""
    count = len(images)
    if count % step and step != CALIBRATION_BATCH:
        images = images[torch.arange(-(-count // step) * step) % count]
    report_every = max(step, (len(images) // 4 // step) * step)
    with torch.no_grad():
        for start in range(0, len(images), step):
            prepared(images[start : start + step])
            done = min(start + step, count)
            if progress is not None and (start + step) % report_every == 0 and done < count:
                progress.note(f"calibrated {done}/{count} images")
    return count


def convert(prepared: torch.fx.GraphModule, qat: bool = False, fold_quantize: bool = True) -> torch.fx.GraphModule:
    """convert_pt2e: observers/fake quantizers become quantize/dequantize pairs (int8 weights
    folded unless fold_quantize=False); the QAT conv-bn fold runs only for QAT models."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

    if qat:
        return convert_pt2e(prepared, fold_quantize=fold_quantize)
    with upstream.torchao_skip_qat_batchnorm_fold():
        return convert_pt2e(prepared, fold_quantize=fold_quantize)


def quantize_ptq(
    model: nn.Module,
    target: str,
    images: Tensor,
    example: Tensor,
    observer: str | None = None,
    exclude: tuple[str, ...] = (),
    only: tuple[str, ...] | None = None,
    fold_quantize: bool = True,
    progress: Progress | None = None,
    report: dict | None = None,
) -> torch.fx.GraphModule:
    """PTQ with the target's recipe: capture, prepare_pt2e, calibrate on `images`, convert.
    `report`, when given, receives what was quantized (RegionQuantizer.report)."""
    from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e

    quantizer = recipe_quantizer(target, observer=observer, exclude=exclude, only=only)
    with silenced():
        captured, step = capture(model.eval(), images, example)
        prepared = prepare_pt2e(captured, quantizer)
    if report is not None:
        report.update(quantizer.report())
    calibrate(prepared, images, step, progress)
    with silenced():
        return convert(prepared, fold_quantize=fold_quantize)
