"""Every workaround of a third-party bug or slowness, in one place, each tied to the versions it
was written for.

Each `Workaround` names the package(s) and version range it was checked against and the upstream
issue when there is one. A workaround that keeps results correct (`required`) refuses to run
outside its range (StaleWorkaround, exit code 2): a toolchain upgrade must not silently run a
stale patch, nor silently lose a needed fix. One that only saves time is skipped outside its range
and the toolchain runs unpatched. Patches are applied inside context managers and undone after.
Toolchains are imported inside the functions: this module loads without any of them.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import re
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Iterator

from mvedge.errors import BadInput, Failed


class StaleWorkaround(BadInput):
    """An installed toolchain is outside the versions a needed workaround was written for."""


def _release(version: str) -> tuple[int, ...]:
    """The numeric release of a version string: '2.13.0+cpu' -> (2, 13, 0)."""
    found = re.match(r"\d+(\.\d+)*", version.strip())
    return tuple(int(part) for part in found.group(0).split(".")) if found else ()


def _installed(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class Workaround:
    """A patch of third-party code and the versions it is known to be right for."""

    name: str
    what: str  # the upstream problem, in one line
    versions: dict[str, tuple[str, str]]  # package -> [lowest, first untested) version
    upstream: str  # issue / PR link, or "no upstream issue found"
    required: bool  # True: results are wrong or the step fails without it

    def mismatches(self) -> list[str]:
        """'package version' for each package installed outside its range (or not found)."""
        found = []
        for package, (low, high) in self.versions.items():
            installed = _installed(package)
            release = _release(installed) if installed else ()
            if not installed or not _release(low) <= release < _release(high):
                found.append(f"{package} {installed or 'not installed'}")
        return found

    def applies(self) -> bool:
        """True when every package is in range. Outside it: StaleWorkaround when the workaround is
        required, else False (the caller runs the toolchain unpatched)."""
        mismatches = self.mismatches()
        if not mismatches:
            return True
        if self.required:
            ranges = ", ".join(f"{p} >={low},<{high}" for p, (low, high) in self.versions.items())
            raise StaleWorkaround(
                f"{', '.join(mismatches)} is installed, but mvedge's workaround for {self.what} was written for "
                f"{ranges} (upstream: {self.upstream}); install the tested versions (pip install -c constraints.txt) "
                f"or, after checking the upstream fix, update mvedge.upstream.{self.name.upper()}"
            )
        return False


@contextlib.contextmanager
def _attribute(owner: Any, name: str, value: Any) -> Iterator[None]:
    """Set `owner.name` to `value` for the duration, then restore it."""
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


# ------------------------------------------------------------------ coremltools

COREMLTOOLS_IMPORT_PROBE = Workaround(
    "coremltools_import_probe",
    "coremltools importing TensorFlow at import time to check its version (4-5 s, ~25 lines of TensorFlow logging)",
    {"coremltools": ("9.0", "9.1")},
    "no upstream issue found",
    required=False,
)


@contextlib.contextmanager
def coremltools_without_tensorflow() -> Iterator[None]:
    """While coremltools is imported for the first time, hide TensorFlow from it.

    coremltools 9.0's `coremltools._deps` imports every framework it can convert from, TensorFlow
    included, to compare versions; mvedge converts from torch.export only. Hidden, TensorFlow
    counts as absent for coremltools (its TensorFlow frontends stay off) and later imports of
    TensorFlow by other targets are unaffected."""
    if "coremltools" in sys.modules or not COREMLTOOLS_IMPORT_PROBE.applies():
        yield
        return
    missing = object()
    previous = sys.modules.get("tensorflow", missing)
    sys.modules["tensorflow"] = None  # `import tensorflow` raises ImportError meanwhile
    try:
        yield
    finally:
        if previous is missing:
            sys.modules.pop("tensorflow", None)
        else:
            sys.modules["tensorflow"] = previous


def import_coremltools() -> ModuleType:
    """coremltools, imported without its TensorFlow probe (see `coremltools_without_tensorflow`)."""
    with coremltools_without_tensorflow():
        import coremltools
    return coremltools


COREML_GELU = Workaround(
    "coreml_gelu",
    "the torch.export gelu converter ignoring approximate='tanh'",
    {"coremltools": ("9.0", "9.1")},
    "https://github.com/apple/coremltools/pull/2863",
    required=True,
)


@contextlib.contextmanager
def coreml_gelu_reads_approximate_keyword() -> Iterator[None]:
    """While converting, let coremltools' torch gelu converter read `approximate` from keywords.

    coremltools 9.0 reads `approximate` only as a positional input (TorchScript's form); torch.export
    keeps it as a keyword, so `GELU(approximate="tanh")` (MambaVision's conv blocks) silently became
    the exact GELU: ~1e-4 relative error at each conv block, found by the MIL interpreter. The
    upstream fix (apple/coremltools pull request 2863) was still open when this was written."""
    COREML_GELU.applies()
    from coremltools.converters.mil import Builder as mb
    from coremltools.converters.mil.frontend.torch import ops as torch_ops
    from coremltools.converters.mil.frontend.torch.torch_op_registry import _TORCH_OPS_REGISTRY

    original = _TORCH_OPS_REGISTRY.name_to_func_mapping["gelu"]

    def gelu(context, node):
        inputs = torch_ops._get_inputs(context, node, expected=[1, 2])
        approximate = inputs[1] if len(inputs) == 2 else None
        keyword = torch_ops._get_kwinputs(context, node, "approximate")
        if keyword:
            approximate = keyword[0]
        approximate = getattr(approximate, "val", approximate) or "none"
        modes = {"none": None, "tanh": "TANH_APPROXIMATION"}
        if approximate not in modes:
            raise Failed(f"gelu with approximate={approximate!r} is not supported by Core ML")
        context.add(mb.gelu(x=inputs[0], mode=modes[approximate], name=node.name))

    _TORCH_OPS_REGISTRY.set_func_by_name(gelu, "gelu")
    try:
        yield
    finally:
        _TORCH_OPS_REGISTRY.set_func_by_name(original, "gelu")


COREML_SYMBOLIC_SIZES = Workaround(
    "coreml_symbolic_sizes",
    "coremltools' torch.export frontend having no converter for torch.sym_min and casting the floor "
    "division of two sizes to float, so a symbolic shape built from it fails to convert; and its "
    "rank0_expand_dims_swap pass failing ('Cannot delete op') when a size feeds a concat",
    {"coremltools": ("9.0", "9.1")},
    "no upstream issue found",
    required=True,
)


@contextlib.contextmanager
def coreml_symbolic_size_arithmetic() -> Iterator[None]:
    """While converting (and compressing) a graph with symbolic sizes (enumerated input shapes):
    translate torch.sym_min to MIL's `minimum` and the floor division of integers to an integer
    `floor_div` (coremltools casts every floor division to fp32, as aten.floor_divide of tensors
    once did); and keep the rank0_expand_dims_swap pass off a scalar that a concat lists (it
    rewires single-var inputs only, then fails to delete the scalar: 'Cannot delete op')."""
    COREML_SYMBOLIC_SIZES.applies()
    from coremltools.converters.mil import Builder as mb
    from coremltools.converters.mil.frontend.torch import ops as torch_ops
    from coremltools.converters.mil.frontend.torch.torch_op_registry import _TORCH_OPS_REGISTRY
    from coremltools.converters.mil.mil import types
    from coremltools.converters.mil.mil.passes.defs.optimize_elementwise_binary import rank0_expand_dims_swap

    def sym_min(context, node):
        x, y = torch_ops._get_inputs(context, node, expected=2)
        context.add(mb.minimum(x=x, y=y, name=node.name))

    original_floordiv = _TORCH_OPS_REGISTRY.name_to_func_mapping["floordiv"]
    original_swap = rank0_expand_dims_swap._try_to_transform

    def floordiv(context, node):
        x, y = torch_ops._get_inputs(context, node, expected=2)
        if types.is_int(x.dtype) and types.is_int(y.dtype):
            context.add(mb.floor_div(x=x, y=y, name=node.name))
        else:
            original_floordiv(context, node)

    def swap(op, block):  # the pass rewires only single-var inputs: leave a scalar a concat lists alone
        listed = any(isinstance(value, (list, tuple)) and op.outputs[0] in value
                     for child in op.outputs[0].child_ops for value in child.inputs.values())
        return False if listed else original_swap(op, block)

    added_sym_min = _TORCH_OPS_REGISTRY.get_func("sym_min") is None  # else coremltools gained its own
    if added_sym_min:
        _TORCH_OPS_REGISTRY.set_func_by_name(sym_min, "sym_min")
    _TORCH_OPS_REGISTRY.set_func_by_name(floordiv, "floordiv")
    rank0_expand_dims_swap._try_to_transform = staticmethod(swap)
    try:
        yield
    finally:
        rank0_expand_dims_swap._try_to_transform = staticmethod(original_swap)
        _TORCH_OPS_REGISTRY.set_func_by_name(original_floordiv, "floordiv")
        if added_sym_min:
            del _TORCH_OPS_REGISTRY.name_to_func_mapping["sym_min"]


COREML_CLASSIFIER = Workaround(
    "coreml_classifier",
    "an IndexError in get_func_output when a classifier is added to a two-output program targeting iOS16 or later",
    {"coremltools": ("9.0", "9.1")},
    "no upstream issue found",
    required=True,
)


def coreml_ml_program_in_two_steps(ct: ModuleType, source: Any, classifier: Any, target: Any, **mil_options: Any) -> Any:
    """`ct.convert(source, convert_to="mlprogram", classifier_config=classifier, ...)` in two steps.

    In one step, coremltools 9.0 fails (IndexError in get_func_output) when a classifier is added
    to a program with two outputs and a minimum_deployment_target >= iOS16. So: first to a MIL
    program with `mil_options` (inputs, outputs, compute precision), then, with the output types
    cleared, to an ML program with the classifier and no further passes or casts."""
    COREML_CLASSIFIER.applies()
    program = ct.convert(source, convert_to="milinternal", minimum_deployment_target=target, **mil_options)
    program.functions["main"].set_output_types(None)
    return ct.convert(
        program,
        convert_to="mlprogram",
        minimum_deployment_target=target,
        compute_precision=ct.precision.FLOAT32,  # the program is already typed: add no casts
        pass_pipeline=ct.PassPipeline.EMPTY,
        classifier_config=classifier,
        skip_model_load=True,
    )


# ------------------------------------------------------------------ PT2E quantizers (torchao, executorch, litert-torch)

COREML_QUANTIZER_PATTERNS = Workaround(
    "coreml_quantizer_patterns",
    "CoreMLQuantizer exporting ~60 s of fused-activation patterns for any model",
    {"executorch": ("1.5", "1.6")},
    "no upstream issue found",
    required=False,
)

ACTIVATION_ALIASES = {"relu6": ("hardtanh",), "celu": ("elu",), "selu": ("elu",)}
"""Activation functions whose op in a captured graph has another name."""


@contextlib.contextmanager
def coreml_quantizer_only_present_activations(present: set[str]) -> Iterator[None]:
    """While CoreMLQuantizer annotates a graph whose call_function ops are `present`, offer it only
    the fused-activation patterns whose activation occurs in the graph.

    Its annotators build (with a dynamo export each, ~0.4 s here) one pattern per weighted op,
    conv dimension and each of 15 activations, in-place or not: ~60 s for any model. A pattern
    whose activation is absent from the graph cannot match, so dropping it changes nothing (the
    tests compare with the unrestricted quantizer). Skipped outside the tested versions."""
    if not COREML_QUANTIZER_PATTERNS.applies():
        yield
        return
    from executorch.backends.apple.coreml.quantizer import _coreml_quantizer_utils as utils

    def keep(fn: Callable) -> bool:
        name = fn.__name__
        return name in present or any(alias in present for alias in ACTIVATION_ALIASES.get(name, ()))

    with _attribute(utils, "_supported_activations", tuple(fn for fn in utils._supported_activations if keep(fn))), _attribute(
        utils, "_supported_activations_no_inplace", tuple(fn for fn in utils._supported_activations_no_inplace if keep(fn))
    ):
        yield


LITERT_QAT_PATTERNS = Workaround(
    "litert_qat_patterns",
    "litert-torch passing plain functions as QAT conv-batchnorm patterns to torchao's pattern export",
    {"litert-torch": ("0.10", "0.11"), "torchao": ("0.18", "0.19")},
    "no upstream issue found (related: https://github.com/google-ai-edge/litert-torch/issues/801)",
    required=False,
)


@contextlib.contextmanager
def litert_patterns_as_modules() -> Iterator[None]:
    """While litert-torch's PT2EQuantizer annotates, hand torchao's pattern export a module.

    litert-torch 0.10 passes plain functions as conv-batchnorm patterns (QAT mode) to torchao's
    `_get_aten_graph_module_for_pattern`, which in torchao 0.18 exports them with
    torch.export.export and fails ("Expected `mod` to be an instance of `torch.nn.Module`, got
    <class 'function'>"). The function is wrapped in a module with the same forward. Skipped
    outside the tested versions: without it the failure is loud, never a wrong model."""
    if not LITERT_QAT_PATTERNS.applies():
        yield
        return
    from litert_torch.quantize import pt2e_quantizer_utils as utils
    from torch import nn

    original = utils._get_aten_graph_module_for_pattern

    def as_module(pattern, example_inputs, is_cuda=False, **kwargs):
        if not isinstance(pattern, nn.Module):
            function = pattern

            class Pattern(nn.Module):
                def forward(self, *args, **kw):
                    return function(*args, **kw)

            pattern = Pattern()
        return original(pattern, example_inputs, is_cuda, **kwargs)

    with _attribute(utils, "_get_aten_graph_module_for_pattern", as_module):
        yield


TORCHAO_PTQ_BATCHNORM_FOLD = Workaround(
    "torchao_ptq_batchnorm_fold",
    "convert_pt2e running the QAT conv-batchnorm fold (25-40 s of pattern exports) on PTQ graphs",
    {"torchao": ("0.18", "0.19")},
    "no upstream issue found (related: https://github.com/pytorch/pytorch/pull/116440)",
    required=False,
)


@contextlib.contextmanager
def torchao_skip_qat_batchnorm_fold() -> Iterator[None]:
    """During convert_pt2e of a PTQ-prepared model, skip torchao's QAT conv-batchnorm fold.

    convert_pt2e always runs `_fold_conv_bn_qat`, which exports ~96 pattern graphs with dynamo
    (25-40 s here) to find QAT conv-bn patterns; a graph from prepare_pt2e has none (prepare
    already folded conv-bn), so nothing is found. Only for PTQ; tests/quant check the outputs
    match the full convert. Skipped outside the tested versions."""
    if not TORCHAO_PTQ_BATCHNORM_FOLD.applies():
        yield
        return
    from torchao.quantization.pt2e import quantize_pt2e

    with _attribute(quantize_pt2e, "_fold_conv_bn_qat", lambda model: model):
        yield


# ------------------------------------------------------------------ torch.export

EXPORT_SIZE_OBLIVIOUS = Workaround(
    "export_size_oblivious",
    "torch.export fixing a symbolic height/width to the example's value through size-1 checks "
    "(a window count that could be 1) in its view and contiguity logic",
    {"torch": ("2.13", "2.14")},
    "https://github.com/pytorch/pytorch/issues/176349",
    required=True,
)


@contextlib.contextmanager
def export_size_oblivious() -> Iterator[None]:
    """During a torch.export with symbolic sizes, treat sizes as not 1 in size checks (torch's
    `backed_size_oblivious`), so a height or width stays symbolic; the exported graph is then
    checked against eager at several sizes by the callers' tests. Refused outside the tested torch."""
    EXPORT_SIZE_OBLIVIOUS.applies()
    import torch.fx.experimental._config as fx_config

    with fx_config.patch(backed_size_oblivious=True):
        yield


WORKAROUNDS = (
    COREMLTOOLS_IMPORT_PROBE,
    COREML_GELU,
    COREML_SYMBOLIC_SIZES,
    COREML_CLASSIFIER,
    COREML_QUANTIZER_PATTERNS,
    LITERT_QAT_PATTERNS,
    TORCHAO_PTQ_BATCHNORM_FOLD,
    EXPORT_SIZE_OBLIVIOUS,
)
"""Every workaround, for reports and tests."""
