"""ExecuTorch: torch.export -> .pte, delegated to XNNPACK (fp32, int8) or to CoreML (coreml-fp16).

- fp32: `to_edge_transform_and_lower(XnnpackPartitioner)`; runs on any CPU (Android, iOS, desktop).
- int8: PT2E static quantization (XNNPACKQuantizer, symmetric per-channel weights, torchao
  prepare_pt2e/convert_pt2e) calibrated on the given images, with the selective scan and the
  LayerNorms kept in float, then XNNPACK lowering.
- coreml-fp16: CoreMLPartitioner at fp16 compute precision (iOS 17 / macOS 14 target). It builds on
  Linux, but the CoreML delegate exists only in Apple builds of the runtime: the artifact runs on
  iPhones, iPads and Macs only, and on Linux the pipeline records it as "not verified".
Every artifact's sidecar carries a delegation report (`delegation_report`) and the partitions and
operators outside the delegate in the serialized execution plan (`plan_partitions`).

Graph preparation, each step for a measured reason:
- LayerNorm is rewritten with delegable ops (`DelegableLayerNorm`) for XNNPACK: its partitioner
  (ExecuTorch 1.5) has no layer_norm and would leave every norm on the portable CPU kernels
  (8 graph breaks in the small model). Not for CoreML, which has a native layer_norm.
- Batched 4-D `matmul` (attention) becomes reshape -> `bmm` -> reshape for XNNPACK: the default
  matmul decomposition adds an `expand_copy` per operand, which the partitioner does not take (8
  graph breaks in the small model). Identity `expand` nodes left over are removed for the same reason.
- Parameters used by several nodes are untied, then parameter-only subgraphs are folded
  (`constant_prop_pass`): XNNPACK frees a packed linear's bias after load, and when the same
  buffer is also read by another node (MambaVision's dt bias, applied twice) the runtime reads
  freed memory and segfaults when the .pte is loaded from a file. Folding also lets XNNPACK take
  the mixer's depthwise conv1d, whose weight is a concat of two parameters.
- int8: the recipe of mvedge.quant (recipes.py): the scan's and the norms' nodes lose their
  quantization annotations after annotation (RegionQuantizer), because ExecuTorch 1.5.1's cat
  annotator ignores the module filter; `observer` and `exclude` (module paths kept float, e.g.
  from `mvedge quant-report`) come from the target options.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from converters.base import BadRequest, ConversionError, ConversionResult, Converter, ConvertOptions, MissingExtra
from mvedge import upstream
from mvedge.model.bundle import ModelBundle
from mvedge.model.outputs import choice_of, export_model, exported_paths
from mvedge.model.sizes import method_name
from mvedge.progress import Progress
from mvedge.quant.recipes import quant_options
from mvedge.quant.regions import quant_nodes_in_scan
from mvedge.quiet import silenced, silenced_imports

MIXER_TYPE = "MambaVisionMixer"  # nn_module_stack type names used by the delegation report
SCAN_TYPE = "SelectiveScan"
_PACKAGES = ("executorch", "torchao", "coremltools")


class DelegableLayerNorm(nn.Module):
    """LayerNorm over the last dim written with ops the XNNPACK delegate takes (linear, sub, mul,
    add, rsqrt): the means are a linear with a constant 1/C row, not a reduction."""

    def __init__(self, norm: nn.LayerNorm) -> None:
        super().__init__()
        if len(norm.normalized_shape) != 1:
            raise ValueError("DelegableLayerNorm handles a LayerNorm over the last dim only")
        channels = norm.normalized_shape[0]
        self.eps = norm.eps
        self.register_buffer("average", torch.full((1, channels), 1.0 / channels))
        self.weight = norm.weight
        self.bias = norm.bias

    def forward(self, x: Tensor) -> Tensor:
        centred = x - F.linear(x, self.average)
        variance = F.linear(centred * centred, self.average)
        y = centred * torch.rsqrt(variance + self.eps)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y


def delegable_copy(model: nn.Module, rewrite_norms: bool = True) -> nn.Module:
    """A deep copy of `model` in eval mode with its LayerNorms replaced by DelegableLayerNorm (plain
    LayerNorms only: a backbone's LayerNorm2d out norms permute around the norm and stay as they are)."""
    model = copy.deepcopy(model).eval()
    if rewrite_norms:
        for parent in list(model.modules()):
            for name, child in list(parent.named_children()):
                if type(child) is nn.LayerNorm and len(child.normalized_shape) == 1:
                    setattr(parent, name, DelegableLayerNorm(child))
    return model


def _batched_matmul(a: Tensor, b: Tensor) -> Tensor:
    """matmul of equal-rank operands with equal batch dims as one bmm (no expand)."""
    lead = a.shape[:-2]
    count = 1
    for size in lead:
        count *= size
    out = torch.bmm(a.reshape(count, a.shape[-2], a.shape[-1]), b.reshape(count, b.shape[-2], b.shape[-1]))
    return out.reshape(*lead, a.shape[-2], b.shape[-1])


def matmuls_as_bmm(program: torch.export.ExportedProgram) -> tuple[torch.export.ExportedProgram, int]:
    """Decompose aten.matmul into reshape/bmm when every matmul has equal-rank (>= 3) operands with
    equal batch dims; otherwise leave the program to the default decomposition."""
    matmuls = [n for n in program.graph.nodes if n.op == "call_function" and n.target == torch.ops.aten.matmul.default]
    for node in matmuls:
        a, b = (arg.meta.get("val") for arg in node.args[:2])
        if a is None or b is None or a.dim() != b.dim() or a.dim() < 3 or tuple(a.shape[:-2]) != tuple(b.shape[:-2]):
            return program, 0
    if not matmuls:
        return program, 0
    return program.run_decompositions({torch.ops.aten.matmul.default: _batched_matmul}), len(matmuls)


def remove_identity_expands(gm: torch.fx.GraphModule) -> int:
    """Drop aten.expand nodes whose output shape equals their input's; returns how many."""
    removed = 0
    for node in list(gm.graph.nodes):
        if node.op != "call_function" or node.target not in (torch.ops.aten.expand.default, torch.ops.aten.expand_copy.default):
            continue
        source = node.args[0]
        before, after = source.meta.get("val"), node.meta.get("val")
        if before is not None and after is not None and tuple(before.shape) == tuple(after.shape):
            node.replace_all_uses_with(source)
            gm.graph.erase_node(node)
            removed += 1
    if removed:
        gm.graph.lint()
        gm.recompile()
    return removed


def untie_constants(program: torch.export.ExportedProgram) -> int:
    """Give each extra reader of a shared parameter/buffer/constant its own clone (folded into a
    separate constant by constant_prop_pass); returns how many reads were untied."""
    from torch.export.graph_signature import InputKind

    kinds = (InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR)
    names = {spec.arg.name for spec in program.graph_signature.input_specs if spec.kind in kinds}
    graph = program.graph_module.graph
    untied = 0
    for node in list(graph.nodes):
        if node.op != "placeholder" or node.name not in names or len(node.users) < 2:
            continue
        for user in list(node.users)[1:]:
            with graph.inserting_before(user):
                clone = graph.call_function(torch.ops.aten.clone.default, (node,))
            clone.meta = dict(node.meta)
            clone.meta["nn_module_stack"] = user.meta.get("nn_module_stack", {})
            user.replace_input_with(node, clone)
            untied += 1
    if untied:
        program.graph_module.recompile()
    return untied


def export_program(
    model: nn.Module, example: Tensor, bmm: bool = True, fold: bool = True
) -> tuple[torch.export.ExportedProgram, dict[str, int]]:
    """torch.export plus the graph clean-ups above (`bmm`: batched matmuls as bmm, for XNNPACK;
    `fold`: untie shared constants and fold parameter-only subgraphs; off only to measure what
    it buys); returns the program and what was changed."""
    from executorch.exir.operator.util import _QUANT_PRIMITIVES
    from executorch.exir.passes.constant_prop_pass import constant_prop_pass, get_default_skip_targets_no_quant

    program = torch.export.export(model, (example,), strict=False)
    program, matmuls = matmuls_as_bmm(program) if bmm else (program, 0)
    expands = remove_identity_expands(program.graph_module)
    untied = untie_constants(program) if fold else 0
    if fold:  # never fold quantize/dequantize: the int8 weights must stay int8 in the .pte
        program = constant_prop_pass(program, custom_skip_targets=set(_QUANT_PRIMITIVES) | get_default_skip_targets_no_quant())
    changes = {"matmuls_as_bmm": matmuls, "identity_expands_removed": expands, "shared_constant_reads_untied": untied}
    return program, changes


def _module_types(node: torch.fx.Node) -> list[str]:
    stack = node.meta.get("nn_module_stack") or {}
    types = []
    for _, module_type in stack.values():
        name = module_type if isinstance(module_type, str) else getattr(module_type, "__name__", str(module_type))
        types.append(name.rsplit(".", 1)[-1])
    return types


def delegation_report(graph_module: torch.fx.GraphModule, backend: str) -> dict[str, Any]:
    """What ran where: delegated/non-delegated node totals, every op left outside the delegate
    with its count (getitem, the unpacking of delegate outputs, is counted apart), and how many
    of those sit inside the Mamba mixer and the selective scan."""
    from executorch.devtools.backend_debug import get_delegation_info

    info = get_delegation_info(graph_module)
    outside = {op: b.non_delegated for op, b in sorted(info.delegation_by_operator.items()) if b.non_delegated}
    getitems = outside.pop("getitem", 0)
    delegated_ops = {op: b.delegated for op, b in sorted(info.delegation_by_operator.items()) if b.delegated}
    in_mixer: dict[str, int] = {}
    in_scan: dict[str, int] = {}
    for node in graph_module.graph.nodes:
        if node.op != "call_function" or node.name.startswith(("executorch_call_delegate", "getitem")):
            continue
        types = _module_types(node)
        op = str(node.target).split("::")[-1].replace(".default", "")
        if MIXER_TYPE in types:
            in_mixer[op] = in_mixer.get(op, 0) + 1
        if SCAN_TYPE in types:
            in_scan[op] = in_scan.get(op, 0) + 1
    return {
        "backend": backend,
        "delegated_subgraphs": info.num_delegated_subgraphs,
        "delegated_nodes": info.num_delegated_nodes,
        "non_delegated_nodes": info.num_non_delegated_nodes - getitems,
        "non_delegated_ops": outside,
        "delegate_output_getitems": getitems,
        "non_delegated_in_mixer": in_mixer,
        "non_delegated_in_scan": in_scan,
        "delegated_ops": delegated_ops,
    }


PLAN_METHOD = (
    "the serialized program's execution plan: DelegateCall instructions are the partitions, "
    "KernelCall instructions the operators run outside the delegate"
)


def plan_partitions(pte: bytes) -> dict[str, Any]:
    """Delegate partitions and operators outside them as the runtime will run them: the
    instructions of the .pte's execution plans (DelegateCall vs KernelCall), by backend and op."""
    from executorch.exir._serialize._program import deserialize_pte_binary

    program = deserialize_pte_binary(pte)
    program = getattr(program, "program", program)  # newer releases wrap the Program
    partitions, outside, backends = 0, {}, set()
    for plan in program.execution_plan:
        for chain in plan.chains:
            for instruction in chain.instructions:
                kind = type(instruction.instr_args).__name__
                if kind == "DelegateCall":
                    partitions += 1
                    backends.add(plan.delegates[instruction.instr_args.delegate_index].id)
                elif kind == "KernelCall":
                    name = plan.operators[instruction.instr_args.op_index].name
                    outside[name] = outside.get(name, 0) + 1
    return {
        "delegate": ", ".join(sorted(backends)) or "none",
        "partitions": partitions,
        "nodes_outside": sum(outside.values()),
        "ops_outside": dict(sorted(outside.items())),
        "method": PLAN_METHOD,
    }


def float_module_quantizer(float_types: tuple[type, ...], observer: str | None = None, exclude: tuple[str, ...] = ()):
    """An XNNPACKQuantizer (symmetric, per-channel, static) that leaves every node inside the
    given module types (and excluded module paths) unquantized (mvedge.quant's RegionQuantizer).
    `set_module_type(T, None)` alone is not enough in ExecuTorch 1.5.1: its `_annotate_cat`
    ignores the module filter (so the scan's carry concat was quantized) and
    `propagate_annotation` spreads shared qparams into reshapes inside the module; so the
    annotations of those nodes are removed after annotation."""
    from mvedge.quant.pt2e import RegionQuantizer, target_quantizer
    from mvedge.quant.regions import Region

    names = frozenset(t.__name__ for t in float_types)
    return RegionQuantizer(target_quantizer("executorch"), Region(names, tuple(exclude)), observer)


def calibration_tensor(calibration: np.ndarray | None, channels: int, size: int | tuple[int, int]) -> Tensor:
    """The calibration images as one NCHW float32 tensor, checked against the conversion size (a side or (height, width))."""
    if calibration is None or len(calibration) == 0:
        raise BadRequest("int8 needs calibration images; pass a folder with --calibration or let the pipeline supply them")
    data = np.asarray(calibration, dtype=np.float32)
    height, width = (size, size) if isinstance(size, int) else size
    if data.ndim != 4 or data.shape[1:] != (channels, height, width):
        raise BadRequest(
            f"calibration images have shape {data.shape[1:]}, the model needs {(channels, height, width)}; preprocess them at the conversion size"
        )
    return torch.from_numpy(np.ascontiguousarray(data))


class ExecuTorchConverter(Converter):
    """MambaVision -> .pte: XNNPACK fp32 / int8 (CPU, Android and iOS) or CoreML fp16 (Apple only)."""

    target = "executorch"
    suffix = ".pte"
    precisions = {
        "fp32": "float32, XNNPACK delegate (runs on any CPU: Android, iOS, Linux, macOS)",
        "int8": "int8 PT2E static quantization (per-channel weights, calibrated activations), selective scan kept in float, XNNPACK delegate",
        "coreml-fp16": "CoreML delegate at fp16 compute precision (builds on Linux, runs only on Apple devices: iOS 17+/macOS 14+)",
    }
    extra = "executorch"
    modules = ("executorch", "torchao")
    packages = _PACKAGES
    calibrated = frozenset({"int8"})
    reads = {"observer": ("int8",), "exclude": ("int8",)}

    def convert(self, bundle: ModelBundle, options: ConvertOptions, out_path: Path, progress: Progress) -> ConversionResult:
        example = options.example_input(bundle.config["in_channels"])
        try:
            if options.precision == "fp32" and options.multi_size:
                edge, metadata = self._fp32_sizes(bundle, options, progress)
            elif options.precision == "fp32":
                edge, metadata = self._fp32(bundle, example, progress)
            elif options.precision == "int8":
                edge, metadata = self._int8(bundle, options, example, progress)
            elif options.precision == "coreml-fp16":
                edge, metadata = self._coreml(bundle, example, progress)
            else:  # the pipeline checks precisions first; this guards direct calls
                self.check_precision(options.precision)
                raise AssertionError("unreachable")
            with progress.stage("serializing .pte"), silenced():
                program = edge.to_executorch()
                out_path.write_bytes(program.buffer)
            metadata["partitions"] = plan_partitions(program.buffer)
        except ConversionError:
            raise
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            raise ConversionError(
                f"ExecuTorch {options.precision} conversion failed: {type(exc).__name__}: {first} "
                "(check the model exports with torch.export, or report it with the model config)"
            ) from exc
        metadata["recipe"] = metadata.get("recipe", "") + f"; input batch {options.batch} (static)"
        choice = choice_of(bundle)
        names = choice.names if choice.kind != "logits" else None
        return ConversionResult(
            out_path, input_name="image", input_layout="NCHW", input_dtype="float32", metadata=metadata,
            output_name=(names or ["logits"])[0], output_names=names,
            methods=[method_name(i, size) for i, size in enumerate(options.sizes)] if options.multi_size else None,
        )

    def several_sizes_refusal(self, precision: str, extra: dict[str, Any]) -> str | None:
        """fp32 puts one method per size in the .pte; int8 calibrates one exported graph."""
        return None if precision == "fp32" else "the int8 and Core ML delegate recipes lower one exported graph; fp32 takes several"

    # --- precisions -------------------------------------------------------------------------

    def _lower_xnnpack(self, program: torch.export.ExportedProgram, progress: Progress):
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import to_edge_transform_and_lower

        with progress.stage("lowering to XNNPACK"), silenced():
            return to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])

    def _fp32(self, bundle: ModelBundle, example: Tensor, progress: Progress):
        with progress.stage("exporting (torch.export)"), silenced():
            program, changes = export_program(export_model(delegable_copy(bundle.model), choice_of(bundle)), example)
        edge = self._lower_xnnpack(program, progress)
        report = delegation_report(edge.exported_program().graph_module, "XnnpackBackend")
        recipe = "torch.export -> to_edge_transform_and_lower(XnnpackPartitioner) -> to_executorch"
        return edge, {"recipe": recipe, "backend": "XnnpackBackend", "graph_changes": changes, "delegation": report}

    def _fp32_sizes(self, bundle: ModelBundle, options: ConvertOptions, progress: Progress):
        """fp32 with several input sizes: one exported program per size, lowered together into
        one .pte whose methods are 'forward' (the first size) and 'forward_<H>x<W>'."""
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import to_edge_transform_and_lower

        model = export_model(delegable_copy(bundle.model), choice_of(bundle))
        programs, changes = {}, {}
        for index, size in enumerate(options.sizes):
            with progress.stage(f"exporting (torch.export) at {size[0]}x{size[1]}"), silenced():
                name = method_name(index, size)
                programs[name], changes[name] = export_program(model, options.example_input(bundle.config["in_channels"], size))
        with progress.stage("lowering to XNNPACK"), silenced():
            edge = to_edge_transform_and_lower(programs, partitioner=[XnnpackPartitioner()])
        report = delegation_report(edge.exported_program("forward").graph_module, "XnnpackBackend")
        recipe = "torch.export per size -> to_edge_transform_and_lower({method: program}, XnnpackPartitioner) -> to_executorch"
        return edge, {"recipe": recipe, "backend": "XnnpackBackend", "graph_changes": changes["forward"], "delegation": report,
                      "methods": list(programs)}

    def _int8(self, bundle: ModelBundle, options: ConvertOptions, example: Tensor, progress: Progress):
        from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e

        from mvedge.quant import pt2e
        from mvedge.quant.recipes import recipe_for
        from mvedge.quant.regions import resolve_exclusions

        recipe = recipe_for("executorch")
        channels = bundle.config["in_channels"]
        images = calibration_tensor(options.calibration, channels, options.image_size)
        try:
            observer, exclude = quant_options(options.extra)
            excluded = resolve_exclusions(bundle.model, exclude)
        except ValueError as exc:
            raise BadRequest(str(exc)) from exc
        observer = recipe.observer(observer)
        model = export_model(delegable_copy(bundle.model), choice_of(bundle))
        # the scan's log-space decays and its state stay float; so do the norm statistics
        quantizer = pt2e.recipe_quantizer("executorch", observer=observer, exclude=exported_paths(excluded, choice_of(bundle)))
        with progress.stage(f"quantizing (PT2E, {observer} observer, {len(images)} calibration images)"):
            with silenced():
                captured, step = pt2e.capture(model, images, example)
                prepared = prepare_pt2e(captured, quantizer)
            pt2e.calibrate(prepared, images, step, progress)
            with silenced():
                converted = pt2e.convert(prepared)
        leaked = quant_nodes_in_scan(converted)
        if leaked:
            raise ConversionError(
                f"int8: {len(leaked)} quantize/dequantize nodes ended up inside the selective scan ({', '.join(leaked[:4])}); "
                "the quantizer's module-type filter did not hold (report it with the toolchain versions)"
            )
        with progress.stage("exporting the quantized model"), silenced():
            program, changes = export_program(converted, example)
        edge = self._lower_xnnpack(program, progress)
        report = delegation_report(edge.exported_program().graph_module, "XnnpackBackend")
        description = (
            "PT2E static: XNNPACKQuantizer(symmetric, per-channel weights, per-tensor activations) with SelectiveScan "
            "and LayerNorm kept float, torchao prepare_pt2e/convert_pt2e -> torch.export -> XNNPACK lowering"
        )
        metadata = {
            "recipe": description,
            "quant_recipe": recipe.to_dict(),
            "observer": observer,
            "excluded": list(excluded),
            "quantized": quantizer.report(),
            "backend": "XnnpackBackend",
            "graph_changes": changes,
            "calibration_images": len(options.calibration),
            "float_modules": [SCAN_TYPE, "LayerNorm"],
            "delegation": report,
        }
        return edge, metadata

    def _coreml(self, bundle: ModelBundle, example: Tensor, progress: Progress):
        try:
            with silenced_imports(), upstream.coremltools_without_tensorflow():
                import coremltools as ct
                from executorch.backends.apple.coreml.compiler import CoreMLBackend
                from executorch.backends.apple.coreml.partition import CoreMLPartitioner
        except Exception as exc:
            raise MissingExtra(
                f"coreml-fp16 needs ExecuTorch's CoreML backend and coremltools ({type(exc).__name__}: {exc}); "
                'install them with: pip install "mvedge[executorch,coreml]" -c constraints.txt'
            ) from exc
        from executorch.exir import to_edge_transform_and_lower

        with progress.stage("exporting (torch.export)"), silenced():
            program, changes = export_program(export_model(delegable_copy(bundle.model, rewrite_norms=False), choice_of(bundle)), example, bmm=False)
        specs = CoreMLBackend.generate_compile_specs(
            compute_precision=ct.precision.FLOAT16, minimum_deployment_target=ct.target.iOS17
        )
        with progress.stage("lowering to CoreML (fp16)"), silenced():
            edge = to_edge_transform_and_lower(program, partitioner=[CoreMLPartitioner(compile_specs=specs)])
        report = delegation_report(edge.exported_program().graph_module, "CoreMLBackend")
        recipe = "torch.export -> to_edge_transform_and_lower(CoreMLPartitioner, fp16, iOS17, mlpackage compiled on device)"
        metadata = {
            "recipe": recipe,
            "backend": "CoreMLBackend",
            "graph_changes": changes,
            "delegation": report,
            "runs_on": "Apple devices only (iOS 17+/macOS 14+): the CoreML delegate is not built into ExecuTorch on Linux or Android",
        }
        return edge, metadata
