"""TFLite / LiteRT: litert-torch (or torch -> ONNX -> onnx2tf 2.x) to a float32 flatbuffer, then
ai-edge-quantizer for fp16 / int8 / int8-dynamic; checked in ai-edge-litert.

Options (`ConvertOptions.extra`):
- `via`: "litert-torch" (default) or "onnx2tf" (torch -> ONNX -> onnx2tf 2.x, run by a Python >= 3.12
  in mvedge's own side environment, converters/onnx2tf_env.py);
- `onnx2tf_python` (via onnx2tf): the Python >= 3.12 that runs onnx2tf (default: found on the machine);
- `nhwc` (bool): NHWC image input (what Android camera pipelines hand over); default NCHW;
- `io_dtype` (int8 only): "float32" (default: the model quantizes its input itself) or "int8";
- int8 keeps the selective scan, the LayerNorms and softmax in float32 (mvedge.quant.recipes);
- `all_integer` (int8 only, bool): quantize those too, for integer-only accelerators (NPUs, Edge
  TPU); with `scan_fp32` as well, everything but the scan;
- `observer` (int8 only): minmax (default), histogram or percentile (mvedge.quant.observers);
- `exclude` (int8 only): module paths / block names kept float32 (from `mvedge quant-report`).

Every artifact is loaded and run once with LiteRT's default XNNPACK delegate in a subprocess
before it is returned (a delegate failure can abort the process; the partitions XNNPACK took and the
nodes it left outside them go into the sidecar), and the onnx2tf route checks
its float model against PyTorch (onnx2tf infers layouts from shapes; a wrong guess still runs).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from converters import onnx2tf_env
from converters.base import BadRequest, ConversionError, ConversionResult, Converter, ConvertOptions
from converters.litert_metadata import LABELS_FILE, METADATA_ENTRY, MVEDGE_ENTRY, with_metadata
from mvedge.model.bundle import ModelBundle, embedded_description
from mvedge.model.outputs import choice_of, export_model
from mvedge.progress import Progress
from mvedge.quiet import ENVIRONMENT as QUIET_ENVIRONMENT
from mvedge.quiet import silenced, silenced_imports
from mvedge.verify.runners.litert import litert_partitions

ROUTES = ("litert-torch", "onnx2tf")
IO_DTYPES = ("float32", "int8")
ONNX2TF_TIMEOUT_S = 1800


class TFLiteConverter(Converter):
    """MambaVision -> .tflite at a fixed batch; float32, float16 weights, static int8, dynamic int8."""

    target = "tflite"
    suffix = ".tflite"
    precisions = {
        "fp32": "float32 weights and activations",
        "fp16": "float16 weights, float32 compute on CPU (GPU delegates run it in fp16)",
        "int8": "static full-integer int8 (int8 weights and activations, calibrated); float32 or int8 I/O (io_dtype)",
        "int8-dynamic": "dynamic range: int8 weights, activations quantized at run time, float I/O",
    }
    extra = "tflite"
    modules = ("litert_torch", "ai_edge_litert.interpreter", "ai_edge_quantizer")
    packages = ("litert-torch", "ai-edge-litert", "ai-edge-quantizer", "litert-converter")
    calibrated = frozenset({"int8"})
    reads = {
        "via": None,
        "onnx2tf_python": None,
        "nhwc": None,
        "io_dtype": ("int8",),
        "all_integer": ("int8",),
        "scan_fp32": ("int8",),
        "observer": ("int8",),
        "exclude": ("int8",),
    }

    def check_options(self, precision: str, extra: dict[str, Any]) -> dict[str, Any]:
        """The route, layout, I/O dtype and int8 options, checked as `convert` reads them; via
        onnx2tf, that a Python >= 3.12 exists (BadRequest before any work otherwise)."""
        route, *_ = _read_extra(ConvertOptions(precision, 1, extra=dict(extra)))
        if route == "onnx2tf":
            onnx2tf_env.find_python(extra.get("onnx2tf_python"))
        return dict(extra)

    def convert(self, bundle: ModelBundle, options: ConvertOptions, out_path: Path, progress: Progress) -> ConversionResult:
        route, nhwc, io_dtype, keep_float = _read_extra(options)
        choice = choice_of(bundle)
        if choice.kind != "logits" and route != "litert-torch":
            raise BadRequest(f"--outputs {choice.kind} converts via litert-torch only (the default); drop --via {route}")
        channels = bundle.config["in_channels"]
        example = options.example_input(channels)
        with tempfile.TemporaryDirectory(prefix="mvedge-tflite-") as work:
            work_dir = Path(work)
            metadata: dict[str, Any] = {"route": route}
            if route == "onnx2tf":
                float_model, metadata["onnx2tf"] = _onnx2tf_float32(bundle, options, nhwc, work_dir, progress)
            else:
                signatures = signature_examples(options, channels)
                float_model = litert_torch_float32(export_model(bundle.model, choice, as_dict=True), example, nhwc, progress, signatures)
            if options.precision == "fp32":
                model_bytes = float_model
            else:
                from mvedge.quant import litert as tq

                observer, scopes, excluded = _quant_choices(bundle, options)
                with progress.stage(f"quantizing ({tq.RECIPES[options.precision]}{f', {observer} observer' if observer else ''})"):
                    calibration = None
                    if options.precision == "int8":
                        if options.calibration is None or len(options.calibration) == 0:
                            raise BadRequest("int8 needs calibration images; pass --calibration FOLDER (or use int8-dynamic)")
                        calibration = _batches(options.calibration, options.batch, nhwc)
                        metadata["calibration_images"] = int(len(options.calibration))
                    model_bytes, recipe_meta = tq.quantize(
                        float_model, options.precision, calibration, io_dtype, keep_float, observer or "minmax", scopes
                    )
                    if options.precision == "int8":
                        from mvedge.quant.recipes import recipe_for as quant_recipe

                        recipe_meta["quant_recipe"] = quant_recipe("tflite").to_dict()
                        recipe_meta["excluded"] = list(excluded)
                metadata.update(recipe_meta)
        names = choice.names if choice.kind != "logits" else None
        input_detail, output_detail, signature = _io_details(model_bytes, names, first_signature(options))
        description = embedded_description(bundle)
        description["input"] = {"name": signature["input"], "layout": "NHWC" if nhwc else "NCHW", "dtype": np.dtype(input_detail["dtype"]).name}
        description["output"] = {"name": signature["output"]}
        if names:
            description["labels"] = None
            description["outputs"] = [{"name": n, "description": OUTPUT_TEXT[choice.kind].format(n=n)} for n in names]
        model_bytes = with_metadata(model_bytes, description)
        out_path.write_bytes(model_bytes)
        info = inspect_flatbuffer(model_bytes)
        if info["flex_ops"] or info["custom_ops"]:
            out_path.unlink()
            raise ConversionError(
                f"the .tflite needs non-builtin ops ({', '.join(info['flex_ops'] + info['custom_ops'])}) that stock LiteRT "
                "cannot run; report it with the model config"
            )
        metadata.update(info)
        metadata["xnnpack"] = _probe_xnnpack(out_path, progress)
        metadata["partitions"] = metadata["xnnpack"].get("delegation")
        metadata["embedded_metadata"] = [METADATA_ENTRY, MVEDGE_ENTRY]
        metadata["associated_files"] = [LABELS_FILE] if description["labels"] else []
        metadata["signature"] = signature["key"]
        metadata["tensor_names"] = {"input": input_detail["name"], "output": output_detail["name"]}
        return ConversionResult(
            out_path,
            input_name=signature["input"],
            output_name=signature["output"],
            output_dtype=np.dtype(output_detail["dtype"]).name,
            output_names=names,
            input_layout="NHWC" if nhwc else "NCHW",
            input_dtype=np.dtype(input_detail["dtype"]).name,
            input_quantization=_quantization(input_detail),
            output_quantization=_quantization(output_detail),
            metadata=metadata,
            methods=[name for name, _ in signature_examples(options, channels)] if options.multi_size else None,
        )

    def several_sizes_refusal(self, precision: str, extra: dict[str, Any]) -> str | None:
        """litert-torch fp32 puts one signature per size in the .tflite; the quantizers and the
        onnx2tf route work on one signature."""
        if (extra.get("via") or "litert-torch") != "litert-torch":
            return "onnx2tf converts one fixed-shape ONNX graph; use the default --via litert-torch"
        if precision != "fp32":
            return "the LiteRT quantizers rewrite one signature; fp32 takes several"
        return None


def _flag(extra: dict, key: str) -> bool:
    """A boolean target option given as a bool or as a string ("true", "1", "yes", "on")."""
    value = extra.get(key, False)
    return value.strip().lower() in ("1", "true", "yes", "on") if isinstance(value, str) else bool(value)


def _read_extra(options: ConvertOptions) -> tuple[str, bool, str, tuple[str, ...]]:
    """(route, nhwc, io_dtype, parts int8 keeps float32) from the target options, with one-line
    errors for bad values."""
    extra = options.extra
    route = str(extra.get("via") or "litert-torch")
    if route not in ROUTES:
        raise BadRequest(f"unknown tflite route via={route!r}; choose one of {', '.join(ROUTES)}")
    nhwc, scan_fp32, all_integer = _flag(extra, "nhwc"), _flag(extra, "scan_fp32"), _flag(extra, "all_integer")
    if scan_fp32 and options.precision != "int8":
        raise BadRequest(f"scan_fp32 applies to int8 only (a {options.precision} model keeps the scan as it is)")
    if all_integer and options.precision != "int8":
        raise BadRequest(f"all_integer applies to int8 only (a {options.precision} model is not integer); drop it or use precision int8")
    io_dtype = str(extra.get("io_dtype") or "float32")
    if io_dtype not in IO_DTYPES:
        raise BadRequest(f"unknown io_dtype {io_dtype!r}; choose one of {', '.join(IO_DTYPES)}")
    if io_dtype != "float32" and options.precision != "int8":
        raise BadRequest(f"io_dtype={io_dtype} needs precision int8 (a {options.precision} model has float input and output)")
    if extra.get("onnx2tf_python") and route != "onnx2tf":
        raise BadRequest("onnx2tf_python applies to via=onnx2tf only; drop it or add via=onnx2tf")
    if route == "onnx2tf" and options.precision == "int8":
        # onnx2tf 2.6.9's own integer quantization stops on this model (its flatbuffer_direct
        # backend has no full-integer FILL), so there is no onnx2tf int8 file to check.
        raise BadRequest("static int8 is not available via=onnx2tf (onnx2tf's own quantization fails on MambaVision); "
                         "use via=litert-torch (the default) or int8-dynamic")
    from mvedge.quant.litert import float_parts

    return route, nhwc, io_dtype, float_parts(all_integer, scan_fp32) if options.precision == "int8" else ()


def _quant_choices(bundle: ModelBundle, options: ConvertOptions) -> tuple[str | None, tuple[str, ...], tuple[str, ...]]:
    """(observer, float scopes, excluded module paths) for int8 from the `observer` / `exclude`
    target options (mvedge.quant); BadRequest when they are given for another precision."""
    from mvedge.quant.litert import module_scope
    from mvedge.quant.recipes import quant_options, recipe_for
    from mvedge.quant.regions import resolve_exclusions

    try:
        observer, exclude = quant_options(options.extra)
        excluded = resolve_exclusions(bundle.model, exclude)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    if options.precision != "int8":
        if observer or excluded:
            raise BadRequest(f"observer and exclude apply to int8 only (a {options.precision} model is not calibrated)")
        return None, (), ()
    observer = recipe_for("tflite").observer(observer)
    root = type(export_model(bundle.model, choice_of(bundle)))
    return observer, tuple(module_scope(bundle.model, path, root) for path in excluded), excluded


def _batches(images: np.ndarray, batch: int, nhwc: bool) -> list[np.ndarray]:
    """Calibration images grouped into the model's fixed batch (the last group topped up by wrapping)."""
    images = np.asarray(images, dtype=np.float32)
    if nhwc:
        images = images.transpose(0, 2, 3, 1)
    count = max(1, len(images) // batch) if len(images) >= batch else 1
    out = []
    for i in range(count):
        idx = [(i * batch + j) % len(images) for j in range(batch)]
        out.append(np.ascontiguousarray(images[idx]))
    return out


SERVING_DEFAULT = "serving_default"


def signature_examples(options: ConvertOptions, channels: int) -> list[tuple[str, torch.Tensor]]:
    """(signature name, example input) per input size: 'serving_default' for the first size (what
    an app calls by default), 'serving_<H>x<W>' for each further size of a multi-size artifact."""
    return [
        (SERVING_DEFAULT if i == 0 else f"serving_{h}x{w}", options.example_input(channels, (h, w)))
        for i, (h, w) in enumerate(options.sizes)
    ]


def first_signature(options: ConvertOptions) -> str | None:
    """The signature whose I/O details the sidecar records: the first size's for a multi-size .tflite."""
    return SERVING_DEFAULT if options.multi_size else None


def litert_torch_float32(model: torch.nn.Module, example: torch.Tensor, nhwc: bool, progress: Progress,
                         signatures: list[tuple[str, torch.Tensor]] | None = None) -> bytes:
    """The float32 flatbuffer from litert-torch (torch.export -> StableHLO -> TFLite); with
    several `signatures` (name, example), one signature each (a multi-size artifact)."""
    with silenced_imports():  # loads TensorFlow's C++ libraries, which log to stderr
        import litert_torch

    model = model.eval()
    if nhwc:
        model = litert_torch.to_channel_last_io(model, args=[0]).eval()
        example = example.permute(0, 2, 3, 1).contiguous()
        signatures = [(name, x.permute(0, 2, 3, 1).contiguous()) for name, x in signatures or ()]
    with progress.stage("converting with litert-torch"), silenced():
        try:
            if signatures and len(signatures) > 1:
                converter = litert_torch.signature(signatures[0][0], model, (signatures[0][1],))
                for name, sample in signatures[1:]:
                    converter = converter.signature(name, model, (sample,))
                edge_model = converter.convert()
            else:
                edge_model = litert_torch.convert(model, (example,))
            return bytes(edge_model.model_content())
        except Exception as exc:
            raise ConversionError(f"litert-torch conversion failed: {type(exc).__name__}: {_first_line(exc)}") from exc


def _onnx2tf_float32(bundle: ModelBundle, options: ConvertOptions, nhwc: bool, work: Path, progress: Progress) -> tuple[bytes, dict]:
    """torch -> ONNX (converters/onnx.py) -> onnx2tf 2.x float32 flatbuffer, run by the side
    environment's interpreter; checked against PyTorch. Returns it and what the sidecar records."""
    from converters.onnx import OnnxConverter

    exporter = OnnxConverter()
    exporter.check_available()  # MissingExtra naming the onnx extra
    env = onnx2tf_env.ensure_environment(progress, options.extra.get("onnx2tf_python"))
    # a dynamic batch fixed by onnx2tf (-b): onnx2tf 2.6.9 mis-converts the fixed-batch export
    # (a SLICE that fails to prepare in LiteRT)
    onnx_path = work / "model.onnx"
    exporter.convert(bundle, ConvertOptions("fp32", options.image_size, options.batch), onnx_path, progress)
    out_dir = work / "onnx2tf"
    settings = {"batch": options.batch, "keep_nchw": None if nhwc else "image"}  # onnx2tf makes 4D inputs NHWC unless kept
    runner = Path(__file__).with_name("onnx2tf_runner.py")
    command = [str(env.python), "-I", str(runner), str(onnx_path), str(out_dir), json.dumps(settings)]
    with progress.stage(f"converting with onnx2tf {onnx2tf_env.ONNX2TF_VERSION} (Python {env.python_version}, subprocess)"):
        try:
            done = subprocess.run(command, cwd=work, env=dict(onnx2tf_env.runner_environment(), **QUIET_ENVIRONMENT), capture_output=True, text=True, timeout=ONNX2TF_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise ConversionError(f"onnx2tf did not finish in {ONNX2TF_TIMEOUT_S} s; use via=litert-torch") from exc
    result = out_dir / "result.json"
    if done.returncode != 0 or not result.is_file():
        raise ConversionError(f"onnx2tf failed (exit {done.returncode}){_onnx2tf_error(done.stdout + done.stderr)}; use via=litert-torch")
    float_model = (out_dir / json.loads(result.read_text())["float32"]).read_bytes()
    with progress.stage("checking the onnx2tf model against PyTorch"):
        inputs = options.example_input(bundle.config["in_channels"]).numpy()
        if options.calibration is not None:
            inputs = np.concatenate([inputs, np.asarray(options.calibration[: 2 * options.batch], dtype=np.float32)])
        check_float_model(float_model, bundle.model, inputs, nhwc, "onnx2tf")
    return float_model, onnx2tf_env.describe(env)


def check_float_model(float_model: bytes, model: torch.nn.Module, images: np.ndarray, nhwc: bool, producer: str) -> None:
    """Raise ConversionError when a float32 flatbuffer does not compute `model` on `images` (NCHW).

    Why: onnx2tf rewrites the graph from NCHW to NHWC by inferring each tensor's layout from its
    shape; with two equal dimensions (as many tokens as channels, e.g. 64 x 64) it can slice or
    transpose the wrong axis and still produce a model that runs. Measured with onnx2tf 1.29: the
    embedded digits model at 128 px (level 2: 64 tokens x 64 channels) came out at PSNR 18 dB;
    2.6.9 converts it right, and this check keeps any such model from being shipped."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_content=float_model, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    detail, output = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    batch = int(detail["shape"][0])
    worst, peak = 0.0, 0.0
    for start in range(0, len(images) - batch + 1, batch):
        chunk = np.ascontiguousarray(images[start : start + batch], dtype=np.float32)
        interpreter.set_tensor(detail["index"], chunk.transpose(0, 2, 3, 1).copy() if nhwc else chunk)
        interpreter.invoke()
        got = interpreter.get_tensor(output["index"]).reshape(batch, -1)
        with torch.no_grad():
            want = model(torch.from_numpy(chunk)).numpy().reshape(batch, -1)
        worst, peak = max(worst, float(np.abs(got - want).max())), max(peak, float(np.abs(want).max()))
    if not worst <= 1e-3 * max(peak, 1e-6):
        raise ConversionError(
            f"{producer} produced a model that disagrees with PyTorch (max abs error {worst:.3g}, logits up to {peak:.3g}); "
            f"nothing was written: use via=litert-torch (the default)"
        )


def _onnx2tf_error(log: str) -> str:
    """The failing ONNX node and exception of an onnx2tf log (it prints a trace, then ERROR lines)."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in log.splitlines() if line.strip()]
    node = next((line.split("onnx_op_name:", 1)[1].strip() for line in lines if "onnx_op_name:" in line), None)
    exception = next((line for line in lines if re.match(r"^[A-Za-z_.]*(Error|Exception):", line)), None)
    if exception is None:
        exception = next((line for line in lines if "ERROR:" in line and "Read this" not in line), lines[-1] if lines else "no output")
    exception = re.sub(r"\s*Tensor \[.*", " ...", exception)[:200]  # drop printed tensor values
    return f" at ONNX node {node}: {exception}" if node else f": {exception}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else "(no message)"


def inspect_flatbuffer(model: bytes) -> dict[str, Any]:
    """Ops of a .tflite by builtin name, its Flex/custom ops and its tensor types (for sidecars)."""
    from ai_edge_litert import schema_py_generated as schema

    builtin_names = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    type_names = {value: name for name, value in vars(schema.TensorType).items() if not name.startswith("_")}
    root = schema.Model.GetRootAsModel(model, 0)
    codes = []
    for i in range(root.OperatorCodesLength()):
        code = root.OperatorCodes(i)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == schema.BuiltinOperator.CUSTOM:
            codes.append((code.CustomCode() or b"").decode())
        else:
            codes.append(builtin_names.get(builtin, f"BUILTIN_{builtin}"))
    ops: Counter[str] = Counter()
    tensor_types: Counter[str] = Counter()
    custom = {name for i, name in enumerate(codes) if root.OperatorCodes(i).BuiltinCode() == schema.BuiltinOperator.CUSTOM}
    for s in range(root.SubgraphsLength()):
        graph = root.Subgraphs(s)
        for o in range(graph.OperatorsLength()):
            ops[codes[graph.Operators(o).OpcodeIndex()]] += 1
        for t in range(graph.TensorsLength()):
            tensor_types[type_names.get(graph.Tensors(t).Type(), "?")] += 1
    flex = sorted(name for name in custom if name.startswith("Flex"))
    return {
        "ops": dict(sorted(ops.items())),
        "op_count": int(sum(ops.values())),
        "flex_ops": flex,
        "custom_ops": sorted(custom - set(flex)),
        "tensor_types": dict(sorted(tensor_types.items())),
    }


_PROBE = """
import json, sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType
interpreter = Interpreter(model_path=sys.argv[1], experimental_op_resolver_type=OpResolverType.AUTO)
interpreter.allocate_tensors()
detail = interpreter.get_input_details()[0]
interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], dtype=detail["dtype"]))
interpreter.invoke()
ops = [{"index": int(op["index"]), "op_name": op["op_name"], "inputs": [int(t) for t in op["inputs"]],
        "outputs": [int(t) for t in op["outputs"]]} for op in interpreter._get_ops_details()]
print(json.dumps({"ops": ops}))
"""


def _probe_xnnpack(path: Path, progress: Progress) -> dict[str, Any]:
    """Load and run the artifact once with LiteRT's default XNNPACK delegate, in a subprocess: a
    delegate failure can abort the process (seen with degenerate int8 scales), which must not take
    the caller down or ship. Returns how many partitions XNNPACK took and, under `delegation`,
    the nodes it left outside them (`litert_partitions`)."""
    import json

    with progress.stage("checking the XNNPACK delegate (subprocess)"):
        try:
            done = subprocess.run([sys.executable, "-c", _PROBE, str(path)], capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired as exc:
            raise ConversionError("the .tflite did not run in 600 s with LiteRT's XNNPACK delegate") from exc
    if done.returncode != 0:
        lines = [line for line in (done.stderr or "").splitlines() if line.strip() and not line.startswith(("INFO:", "WARNING:"))]
        reason = lines[-1].strip()[:300] if lines else f"exit status {done.returncode}"
        raise ConversionError(f"the .tflite fails in LiteRT's default XNNPACK delegate ({reason}); nothing was written")
    try:
        ops = json.loads(done.stdout.strip().splitlines()[-1])["ops"]
    except (ValueError, IndexError, KeyError, TypeError):
        return {"partitions": None, "runs": True, "delegation": None}
    delegation = litert_partitions(ops)
    return {"partitions": delegation["partitions"], "runs": True, "delegation": delegation}


OUTPUT_TEXT = {
    "features": "pooled image features (batch, 8*dim)",
    "stages": "stage map {n} (batch, channels, height, width), NCHW",
}


def _io_details(model: bytes, names: list[str] | None = None, key: str | None = None) -> tuple[dict, dict, dict[str, str]]:
    """The first input's and output's tensor details, read by the LiteRT interpreter, and the
    signature apps call it through: its key and its input and output names (the tensor names
    when the model has no signature). With `names` (several outputs), the signature must have
    exactly those outputs; the output returned is the first of `names`, found by name. `key`:
    the signature to read among several (a multi-size artifact's first)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model)
    if key is not None:
        runner = interpreter.get_signature_runner(key)
        inputs, outputs = runner.get_input_details(), runner.get_output_details()
        if len(inputs) != 1:
            raise ConversionError(f"the .tflite signature {key!r} has inputs {sorted(inputs)}; expected one")
        (input_name,) = inputs
        output_name = names[0] if names else next(iter(outputs))
        return inputs[input_name], outputs[output_name], {"key": key, "input": input_name, "output": output_name}
    input_detail, output_detail = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    if names:
        ((key, full),) = interpreter._get_full_signature_list().items()
        if sorted(full["outputs"]) != sorted(names):
            raise ConversionError(f"the .tflite signature {key!r} has outputs {sorted(full['outputs'])}; expected {sorted(names)}")
        by_index = {d["index"]: d for d in interpreter.get_output_details()}
        (input_name,) = full["inputs"]
        return input_detail, by_index[full["outputs"][names[0]]], {"key": key, "input": input_name, "output": names[0]}
    signatures = interpreter.get_signature_list()
    if len(signatures) != 1:
        return input_detail, output_detail, {"key": None, "input": input_detail["name"], "output": output_detail["name"]}
    ((key, names),) = signatures.items()
    if len(names.get("inputs", [])) != 1 or len(names.get("outputs", [])) != 1:
        raise ConversionError(f"the .tflite signature {key!r} has {names.get('inputs')} inputs and {names.get('outputs')} outputs; expected one of each")
    return input_detail, output_detail, {"key": key, "input": names["inputs"][0], "output": names["outputs"][0]}


def _quantization(detail: dict) -> dict[str, float] | None:
    """{'scale', 'zero_point'} of an integer I/O tensor, None for a float one."""
    if np.dtype(detail["dtype"]).kind == "f":
        return None
    scale, zero_point = detail["quantization"]
    return {"scale": float(scale), "zero_point": int(zero_point)}
