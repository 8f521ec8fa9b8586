"""Post-conversion quantization of a float32 .tflite with ai-edge-quantizer (the LiteRT quantizer).

Why post-conversion: one litert-torch (or onnx2tf) conversion serves every precision, the recipes
act on TFLite ops (the same ones phone delegates see), and the static recipe chooses per op what
stays float: by default the selective scan, the LayerNorms, softmax, GELU and the attention
matmuls (mvedge.quant.recipes), or nothing at all (`all_integer`, for integer-only accelerators). litert-torch's own PT2E path
lost the scan path (cosine 0.90 against float on a scan-sensitive test model) and offers neither choice.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import numpy as np
import torch

from mvedge.errors import BadInput, Failed, MvedgeError
from mvedge.quiet import silenced

RECIPES = {
    "fp16": "float16 weights (ai-edge-quantizer float casting)",
    "int8-dynamic": "dynamic_wi8_afp32 (int8 per-channel weights, float activations)",
    "int8": "static_wi8_ai8 (int8 per-channel weights, int8 per-tensor activations, calibrated ranges)",
}


DEGENERATE_SPAN = 1e-6  # a calibrated max - min at or below this is "constant on every image"


SCAN_SCOPE = r".*SelectiveScan.*"  # litert-torch names every tensor after its module path
NORM_SCOPE = r"LayerNorm_\w+;\d*;$"
"""The ops of a LayerNorm: ai-edge-quantizer matches an op by its output tensor names joined with
';' plus a trailing ';', and litert-torch names the ops of `norm1` '...LayerNorm_norm1;<n>'. The
op that hands the normalised tensor to the next Linear carries that Linear's name too, so it is
not matched and stays int8 (the Linear needs an int8 input anyway)."""
FLOAT_PARTS = ("scan", "norms", "softmax", "gelu", "matmuls")
"""What the int8 recipe keeps float32 by default (mvedge.quant.recipes' int8 definition). "gelu"
(GELU) and "matmuls" (BATCH_MATMUL: attention's q @ k and attn @ v, two activations) have no int8
kernel in LiteRT's XNNPACK delegate: quantized, each runs outside it on LiteRT's own kernel and
splits the delegated graph; float, they run inside it between a DEQUANTIZE and a QUANTIZE."""


def float_parts(all_integer: bool = False, scan_fp32: bool = False) -> tuple[str, ...]:
    """The parts an int8 model keeps float32: FLOAT_PARTS (the scan, the LayerNorms, softmax, GELU,
    the attention matmuls) by default; with `all_integer` nothing (what integer-only accelerators
    need), or only the scan when `scan_fp32` is also given."""
    if not all_integer:
        return FLOAT_PARTS
    return ("scan",) if scan_fp32 else ()


def recipe_for(precision: str, io_dtype: str = "float32", keep_float: tuple[str, ...] = (), float_scopes: tuple[str, ...] = ()) -> list[dict]:
    """The ai-edge-quantizer recipe of a precision (with float graph I/O unless io_dtype is int8).
    For int8, the `keep_float` parts (FLOAT_PARTS; see `float_parts`) and the ops
    whose tensors match a `float_scopes` regex (user exclusions, see `module_scope`) stay float32."""
    from ai_edge_quantizer import qtyping, recipe, recipe_manager
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    unknown = set(keep_float) - set(FLOAT_PARTS)
    if unknown:
        raise BadInput(f"unknown float parts {sorted(unknown)}; choose from {', '.join(FLOAT_PARTS)}")
    manager = recipe_manager.RecipeManager()
    if precision == "fp16":
        manager.add_weight_only_config(".*", qtyping.TFLOperationName.ALL_SUPPORTED, 16, algorithm_key=AlgorithmName.FLOAT_CASTING)
    elif precision == "int8-dynamic":
        manager.load_quantization_recipe(recipe.dynamic_wi8_afp32())
    elif precision == "int8":
        manager.load_quantization_recipe(recipe.static_wi8_ai8())
        if io_dtype == "float32":  # keep the graph input/output float: QUANTIZE/DEQUANTIZE inside the model
            for io_op in (qtyping.TFLOperationName.INPUT, qtyping.TFLOperationName.OUTPUT):
                manager.add_quantization_config(".*", io_op, None, AlgorithmName.NO_QUANTIZE)
        _keep_float(manager, keep_float, float_scopes)
    else:
        raise Failed(f"no ai-edge-quantizer recipe for precision {precision!r}")
    return manager.get_quantization_recipe()


def _keep_float(manager: Any, keep_float: tuple[str, ...], float_scopes: tuple[str, ...]) -> None:
    """Add NO_QUANTIZE rules for the float parts and scopes (later rules win in ai-edge-quantizer)."""
    from ai_edge_quantizer import qtyping
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    every_op = qtyping.TFLOperationName.ALL_SUPPORTED
    if "scan" in keep_float:
        manager.add_quantization_config(SCAN_SCOPE, every_op, None, AlgorithmName.NO_QUANTIZE)
    if "norms" in keep_float:
        manager.add_quantization_config(NORM_SCOPE, every_op, None, AlgorithmName.NO_QUANTIZE)
    for part, op in (("softmax", "SOFTMAX"), ("gelu", "GELU"), ("matmuls", "BATCH_MATMUL")):
        if part in keep_float:
            manager.add_quantization_config(".*", getattr(qtyping.TFLOperationName, op), None, AlgorithmName.NO_QUANTIZE)
    for scope in float_scopes:
        manager.add_quantization_config(scope, every_op, None, AlgorithmName.NO_QUANTIZE)


def quantize(
    float_model: bytes,
    precision: str,
    calibration: list[np.ndarray] | None,
    io_dtype: str,
    keep_float: tuple[str, ...] = FLOAT_PARTS,
    observer: str = "minmax",
    float_scopes: tuple[str, ...] = (),
) -> tuple[bytes, dict[str, Any]]:
    """Quantize a float32 flatbuffer; returns the new flatbuffer and what to record about it.
    int8 keeps the `keep_float` parts float32 (see `float_parts`) and calibrates with `observer`
    (mvedge.quant.observers: minmax, histogram, percentile)."""
    from ai_edge_quantizer import quantizer

    meta: dict[str, Any] = {"quantizer": "ai-edge-quantizer", "recipe": RECIPES[precision]}
    keep_float = tuple(keep_float) if precision == "int8" else ()
    if "scan" in keep_float:
        scan_tensors = count_scan_tensors(float_model)
        if scan_tensors == 0:
            raise Failed("keeping the scan float: no tensor of the float model is named after the selective scan (SelectiveScan)")
        meta["scan_tensors_in_float_model"] = scan_tensors
    for scope in float_scopes:
        if not count_tensors_matching(float_model, scope):
            raise Failed(f"no tensor of the float model matches the excluded scope {scope!r}; report it with the model config")
    recipe = recipe_for(precision, io_dtype, keep_float, float_scopes)
    try:
        with silenced():
            engine = quantizer.Quantizer(bytearray(float_model), recipe)
            calibration_result = None
            if engine.need_calibration:
                if not calibration:
                    raise Failed(f"{precision} needs calibration images")
                calibration_result = calibrate(float_model, recipe, calibration, observer)
                widened = widen_degenerate_ranges(calibration_result)
                if widened:
                    meta["widened_zero_ranges"] = widened
                meta["observer"] = observer
            result = engine.quantize(calibration_result)
    except MvedgeError:
        raise
    except Exception as exc:
        raise Failed(f"ai-edge-quantizer failed ({precision}): {type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}") from exc
    if precision == "int8":
        meta["io_dtype"] = io_dtype
        meta["float_parts"] = list(keep_float)
        meta["all_integer"] = not keep_float and not float_scopes
        meta["scan_fp32"] = "scan" in keep_float
        meta["float_scopes"] = list(float_scopes)
    return bytes(result.quantized_model), meta


def calibrate(float_model: bytes, recipe: list[dict], calibration: list[np.ndarray], observer: str) -> dict[str, Any]:
    """Per-tensor ranges ({tensor name: {"min", "max"}}) for ai-edge-quantizer's static recipe.

    ai-edge-quantizer's own calibration keeps an exponential moving average (0.95) of each
    image's min/max, so the ranges depend on image order and clip the largest activations
    (measured on the digits model: 29.9 dB against 34.4 dB with the global min/max). Here its
    calibrator runs with the global min/max update; for `histogram` / `percentile` every
    activation tensor of the float model is then fed to that observer (mvedge.quant.observers)
    and its range replaces the min/max. Constant tensors (weights) keep their own min/max."""
    from ai_edge_quantizer import calibrator, recipe_manager
    from ai_edge_quantizer.utils import qsv_utils

    manager = recipe_manager.RecipeManager()
    manager.load_quantization_recipe(recipe)
    signature, input_name = _signature(float_model)
    engine = calibrator.Calibrator(bytes(float_model), num_threads=2, qsv_update_func=qsv_utils.min_max_update)
    engine.calibrate({signature: [{input_name: batch} for batch in calibration]}, manager)
    result = engine.get_model_qsvs()
    if observer != "minmax":
        _observer_ranges(float_model, calibration, observer, result)
    return result


def _observer_ranges(float_model: bytes, calibration: list[np.ndarray], observer: str, result: dict[str, Any]) -> int:
    """Replace the min/max of every activation tensor in `result` by the observer's range; returns how many."""
    import torch
    from ai_edge_litert.interpreter import Interpreter

    from mvedge.quant.observers import make_observer, observed_range

    constants = constant_tensor_names(float_model)
    interpreter = Interpreter(model_content=float_model, experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    index = {detail["name"]: detail["index"] for detail in interpreter.get_tensor_details()}
    names = [name for name in result if name in index and name not in constants and isinstance(result[name], dict) and "min" in result[name]]
    observers = {name: make_observer(observer) for name in names}
    input_index = interpreter.get_input_details()[0]["index"]
    for batch in calibration:
        interpreter.set_tensor(input_index, np.ascontiguousarray(batch, dtype=np.float32))
        interpreter.invoke()
        for name in names:
            value = interpreter.get_tensor(index[name])
            if value.dtype.kind == "f" and value.size:
                observers[name](torch.from_numpy(np.array(value, dtype=np.float32)))
    for name in names:
        if float(observers[name].min_val) > float(observers[name].max_val):  # never observed
            continue
        low, high = observed_range(observers[name])
        stats = result[name]
        stats["min"] = np.full_like(np.asarray(stats["min"], dtype=np.float32), low)
        stats["max"] = np.full_like(np.asarray(stats["max"], dtype=np.float32), high)
    return len(names)


def constant_tensor_names(model: bytes) -> set[str]:
    """Names of the tensors of a flatbuffer that hold constant data (weights, biases)."""
    from ai_edge_litert import schema_py_generated as schema

    root = schema.Model.GetRootAsModel(model, 0)
    names = set()
    for s in range(root.SubgraphsLength()):
        graph = root.Subgraphs(s)
        for t in range(graph.TensorsLength()):
            tensor = graph.Tensors(t)
            buffer = root.Buffers(tensor.Buffer()) if tensor.Buffer() < root.BuffersLength() else None
            if buffer is not None and (buffer.DataLength() > 0 or buffer.Size() > 0):
                names.add((tensor.Name() or b"").decode())
    return names


def module_scope(model: torch.nn.Module, path: str, root: type | None = None) -> str:
    """The regex matching the tensor names litert-torch gives a module's ops.

    litert-torch names each tensor after its module stack: for every module on the path,
    '<module>.<Class>_<attribute>' joined by '/', where a ModuleList is not a level of its own
    (its index becomes the attribute of the child), e.g. levels.2.blocks.0 ->
    'mvedge.model.mambavision.MambaVision/mvedge.model.mambavision.MambaVisionLayer_2/
    mvedge.model.mambavision.Block_0'. The match must end at a '/' or
    ';' (or the end) so Block_1 does not also take Block_10. `root` is the class of the exported
    module when it wraps `model` and calls its methods directly (an OutputsModule: the wrapped
    model's own call is then not on the stack)."""
    from torch import nn

    root = root or type(model)
    segments = [re.escape(f"{root.__module__}.{root.__qualname__}")]  # the model itself: no attribute
    module = model
    for key in path.split("."):
        module = getattr(module, key) if not key.isdigit() else module[int(key)]
        if isinstance(module, (nn.ModuleList, nn.ModuleDict)):
            continue
        kind = type(module)
        segments.append(re.escape(f"{kind.__module__}.{kind.__qualname__}_{key}"))
    return "/".join(segments) + r"(?:[/;]|$)"


def count_tensors_matching(model: bytes, scope: str) -> int:
    """How many tensors of a flatbuffer have a name matching `scope` (re.search)."""
    from ai_edge_litert import schema_py_generated as schema

    pattern = re.compile(scope)
    root = schema.Model.GetRootAsModel(model, 0)
    count = 0
    for s in range(root.SubgraphsLength()):
        graph = root.Subgraphs(s)
        count += sum(1 for t in range(graph.TensorsLength()) if pattern.search((graph.Tensors(t).Name() or b"").decode()))
    return count


def widen_degenerate_ranges(calibration_result: dict[str, Any]) -> int:
    """Give tensors that were constant on every calibration image (e.g. relu(delta) when delta < 0
    throughout) a typical range instead of ai-edge-quantizer's 1e-9 one. A scale of ~4e-12 breaks
    XNNPACK's requantization limits: the default delegate then aborts the process in
    allocate_tensors() ("double free") or fails to prepare. Returns how many ranges were widened."""
    spans = []
    for stats in calibration_result.values():
        if isinstance(stats, dict) and "min" in stats and "max" in stats:
            spans.append(float(np.max(np.asarray(stats["max"], dtype=np.float64) - np.asarray(stats["min"], dtype=np.float64))))
    typical = float(np.median([s for s in spans if s > DEGENERATE_SPAN] or [1.0]))
    widened = 0
    for stats in calibration_result.values():
        if not (isinstance(stats, dict) and "min" in stats and "max" in stats):
            continue
        low, high = np.asarray(stats["min"], dtype=np.float32), np.asarray(stats["max"], dtype=np.float32)
        if float(np.max(high - low)) <= DEGENERATE_SPAN:
            stats["min"] = np.minimum(low, 0.0).astype(np.float32)
            stats["max"] = np.maximum(high, 0.0) + np.float32(typical)
            widened += 1
    return widened


def count_scan_tensors(model: bytes) -> int:
    """How many tensors of a flatbuffer carry the SelectiveScan module in their name."""
    from ai_edge_litert import schema_py_generated as schema

    root = schema.Model.GetRootAsModel(model, 0)
    count = 0
    for s in range(root.SubgraphsLength()):
        graph = root.Subgraphs(s)
        count += sum(1 for t in range(graph.TensorsLength()) if b"SelectiveScan" in (graph.Tensors(t).Name() or b""))
    return count


def _signature(float_model: bytes) -> tuple[str, str]:
    """(signature key, input name) of a single-input model, which calibration data is keyed by."""
    from ai_edge_litert.interpreter import Interpreter

    signatures = Interpreter(model_content=float_model).get_signature_list()
    if not signatures:
        raise Failed("the float .tflite has no signature, so it cannot be calibrated; use via=litert-torch for int8")
    key = next(iter(signatures))
    inputs = signatures[key]["inputs"]
    if len(inputs) != 1:
        raise Failed(f"expected one model input, found {len(inputs)}")
    return key, inputs[0]


def only_scopes_recipe(scopes: list[str], io_dtype: str = "float32", keep_float: tuple[str, ...] = FLOAT_PARTS) -> list[dict]:
    """static_wi8_ai8 restricted to the ops whose tensors match one of `scopes`, less the
    `keep_float` parts inside them (as the full recipe keeps them); the rest float32."""
    from ai_edge_quantizer import qtyping, recipe_manager
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    manager = recipe_manager.RecipeManager()
    manager.add_quantization_config(".*", qtyping.TFLOperationName.ALL_SUPPORTED, None, AlgorithmName.NO_QUANTIZE)
    for scope in scopes:
        manager.add_static_config(
            regex=scope,
            operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
            activation_num_bits=8,
            weight_num_bits=8,
            algorithm_key=AlgorithmName.MIN_MAX_UNIFORM_QUANT,
        )
    _keep_float(manager, keep_float, ())
    if io_dtype == "float32":
        for io_op in (qtyping.TFLOperationName.INPUT, qtyping.TFLOperationName.OUTPUT):
            manager.add_quantization_config(".*", io_op, None, AlgorithmName.NO_QUANTIZE)
    return manager.get_quantization_recipe()


def _run_flatbuffer(model: bytes, images: np.ndarray) -> np.ndarray:
    """Outputs of a batch-1 flatbuffer on NCHW images, with LiteRT's reference kernels."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    detail, output = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    outputs = []
    for image in images:
        interpreter.set_tensor(detail["index"], np.ascontiguousarray(image[None], dtype=np.float32))
        interpreter.invoke()
        outputs.append(np.array(interpreter.get_tensor(output["index"]), dtype=np.float32).reshape(1, -1))
    return np.concatenate(outputs)


def scope_sensitivity(
    float_model: bytes,
    model: torch.nn.Module,
    calibration: np.ndarray,
    images: np.ndarray,
    labels: np.ndarray | None = None,
    observer: str | None = None,
    progress: Any = None,
    keep_float: tuple[str, ...] = FLOAT_PARTS,
):
    """mvedge.quant.sensitivity for LiteRT: calibrate the float .tflite once, then for each unit
    of the model quantize only that unit's ops (its module scope, less the `keep_float` parts)
    with ai-edge-quantizer and run the result in LiteRT's interpreter. Returns a SensitivityReport."""
    from ai_edge_quantizer import quantizer

    from mvedge.progress import Progress
    from mvedge.quant.recipes import recipe_for as quant_recipe
    from mvedge.quant.sensitivity import SensitivityReport, UnitDrift
    from mvedge.quant.units import quant_units
    from mvedge.verify.metrics import compare

    progress = progress or Progress(quiet=True)
    chosen = quant_recipe("tflite").observer(observer)
    full_recipe = recipe_for("int8", keep_float=keep_float)
    batches = [np.ascontiguousarray(image[None], dtype=np.float32) for image in np.asarray(calibration, dtype=np.float32)]
    with progress.stage(f"calibrating the float .tflite ({chosen} observer, {len(batches)} images)"), silenced():
        stats = calibrate(float_model, full_recipe, batches, chosen)
        widen_degenerate_ranges(stats)
    with torch.no_grad():
        reference = np.concatenate([model(torch.from_numpy(images[i : i + 16])).numpy() for i in range(0, len(images), 16)])

    def drift_of(recipe: list[dict]):
        with silenced():
            quantized = quantizer.Quantizer(bytearray(float_model), recipe).quantize(copy.deepcopy(stats))
        return compare(reference, _run_flatbuffer(bytes(quantized.quantized_model), images), labels)

    full = UnitDrift("all", "every unit quantized", drift_of(full_recipe))
    recipe_name = "ai-edge-quantizer static_wi8_ai8 per module scope" + (f" ({', '.join(keep_float)} float32)" if keep_float else " (all-integer)")
    report = SensitivityReport("tflite", f"{recipe_name}, run in LiteRT", chosen, len(images), len(batches), full)
    units = quant_units(model)
    for index, unit in enumerate(units):
        scopes = [module_scope(model, path) for path in unit.paths]
        drift = drift_of(only_scopes_recipe(scopes, keep_float=keep_float))
        report.units.append(UnitDrift(unit.name, unit.kind, drift, sum(count_tensors_matching(float_model, s) for s in scopes)))
        progress.note(f"{index + 1}/{len(units)} {unit.name}: PSNR {drift.psnr_db:.1f} dB, cosine {drift.cosine:.5f}")
    return report
