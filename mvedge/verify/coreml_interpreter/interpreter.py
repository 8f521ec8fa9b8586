"""Walk an ML program's main function op by op and evaluate it with `ops.OPS`."""

from __future__ import annotations

import contextlib

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from mvedge import upstream
from mvedge.errors import Failed, NotFound
from mvedge.verify.coreml_interpreter.ops import OPS, OpArgs


class UnsupportedOperation(Failed, NotImplementedError):
    """The program uses a MIL op type (or construct) this interpreter does not implement."""


@dataclass
class ModelIO:
    """What a Core ML model takes and gives, read from its description (spec)."""

    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {kind, shape, color_layout}
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {kind, shape}
    predicted_feature: str | None = None  # classifier: label output name
    predicted_probabilities: str | None = None  # classifier: {label: probability} output name
    metadata: dict[str, str] = field(default_factory=dict)  # user_defined_metadata

    @classmethod
    def from_spec(cls, spec: Any) -> "ModelIO":
        """Inputs (image or tensor), outputs and classifier fields of a Model spec."""
        from coremltools.proto import FeatureTypes_pb2

        color_names = FeatureTypes_pb2.ImageFeatureType.ColorSpace.Name
        io = cls()
        for feature in spec.description.input:
            kind = feature.type.WhichOneof("Type")
            if kind == "imageType":
                image = feature.type.imageType
                sizes = [(size.width, size.height) for size in image.enumeratedSizes.sizes] or [(image.width, image.height)]
                io.inputs[feature.name] = {"kind": "image", "width": image.width, "height": image.height, "sizes": sizes,
                                           "color_layout": color_names(image.colorSpace)}
            elif kind == "multiArrayType":
                io.inputs[feature.name] = {"kind": "tensor", "shape": list(feature.type.multiArrayType.shape)}
            else:
                io.inputs[feature.name] = {"kind": kind}
        for feature in spec.description.output:
            kind = feature.type.WhichOneof("Type")
            entry: dict[str, Any] = {"kind": {"multiArrayType": "tensor", "dictionaryType": "dict", "stringType": "str", "int64Type": "int"}.get(kind, kind)}
            if kind == "multiArrayType":
                entry["shape"] = list(feature.type.multiArrayType.shape)
            io.outputs[feature.name] = entry
        io.predicted_feature = spec.description.predictedFeatureName or None
        io.predicted_probabilities = spec.description.predictedProbabilitiesName or None
        io.metadata = dict(spec.description.metadata.userDefined)
        return io


def _weights_dir(package: Path) -> Path:
    return package / "Data" / "com.apple.CoreML" / "weights"


def load_program(path: str | Path) -> tuple[Any, Any]:
    """(MIL Program, Model spec) of a saved .mlpackage, with its weight blobs read from disk."""
    ct = upstream.import_coremltools()
    from coremltools.converters.mil.frontend.milproto.load import load as milproto_load

    package = Path(path)
    if not package.is_dir():
        raise NotFound(f"{str(package)!r} is not an .mlpackage directory")
    spec = ct.utils.load_spec(str(package))
    if spec.WhichOneof("Type") != "mlProgram":
        raise UnsupportedOperation(f"{package.name} is a {spec.WhichOneof('Type')} model; the interpreter runs ML programs only")
    program = milproto_load(spec, spec.specificationVersion, str(_weights_dir(package)))
    return program, spec


def _value_of(var: Any, env: dict[str, Any]) -> Any:
    if var.name in env:
        return env[var.name]
    if var.val is not None:  # a constant folded into the proto as an immediate value
        return var.val
    raise RuntimeError(f"value of {var.name!r} is used before it is computed")


def _declared_dtype(var: Any) -> Any:
    """numpy dtype a tensor/scalar output is declared with, None for strings, lists, dicts."""
    from coremltools.converters.mil.mil import types

    sym = var.sym_type
    if not (types.is_tensor(sym) or types.is_scalar(sym)):
        return None
    builtin = sym.get_primitive() if types.is_tensor(sym) else sym
    if types.is_str(builtin):
        return None
    return np.dtype(types.nptype_from_builtin(builtin))


def _declared_shape(var: Any) -> tuple | None:
    from coremltools.converters.mil.mil import types
    from coremltools.converters.mil.mil.types.symbolic import any_symbolic

    if not types.is_tensor(var.sym_type):
        return () if types.is_scalar(var.sym_type) else None
    shape = var.shape
    return None if any_symbolic(shape) else tuple(int(s) for s in shape)


class MILInterpreter:
    """Evaluate the main function of an ML program (a saved .mlpackage or an in-memory MIL
    Program). `predict(feeds)` follows `coremltools.models.MLModel.predict`: a dict of input
    name -> value (numpy arrays; PIL images for image inputs) in, a dict of output name -> value out."""

    def __init__(self, model: str | Path | Any, function: str = "main", threads: int | None = 1) -> None:
        self.threads = threads  # torch intra-op threads while predicting (None: leave torch's setting)
        if isinstance(model, (str, Path)):
            self.program, spec = load_program(model)
            self.io = ModelIO.from_spec(spec)
        else:
            self.program, self.io = model, ModelIO()
        if function not in self.program.functions:
            raise UnsupportedOperation(f"the program has no function {function!r} (functions: {', '.join(self.program.functions)})")
        self.function = self.program.functions[function]
        self.opset = str(getattr(self.function, "opset_version", ""))
        for op in self.function.operations:
            if op.op_type != "const" and op.op_type not in OPS:
                raise UnsupportedOperation(
                    f"MIL op {op.op_type!r} (first use: {op.name}) is not implemented by the mvedge Core ML interpreter"
                )
            if getattr(op, "blocks", None):
                raise UnsupportedOperation(f"MIL op {op.op_type!r} ({op.name}) has nested blocks (control flow), which the interpreter does not run")
        self.input_names = list(self.function.inputs)
        self.output_names = [var.name for var in self.function.outputs]

    def classifier_classes(self) -> list | None:
        """The class labels of the program's classify op, in output order (None without one)."""
        for op in self.function.operations:
            if op.op_type == "classify":
                return [c.item() if isinstance(c, np.generic) else c for c in list(op.inputs["classes"].val)]
        return None

    def op_types(self) -> dict[str, int]:
        """How many ops of each type the main function has."""
        counts: dict[str, int] = {}
        for op in self.function.operations:
            counts[op.op_type] = counts.get(op.op_type, 0) + 1
        return counts

    def _input_array(self, name: str, value: Any) -> np.ndarray:
        var = self.function.inputs[name]
        info = self.io.inputs.get(name, {})
        if info.get("kind") == "image":
            value = _image_to_array(value, info)
        array = np.asarray(value)
        dtype = _declared_dtype(var)
        shape = _declared_shape(var)
        if shape is not None and tuple(array.shape) != shape:
            raise ValueError(f"input {name!r} has shape {tuple(array.shape)}, the model expects {shape}")
        return array.astype(dtype) if dtype is not None else array

    def predict(self, feeds: dict[str, Any], keep_intermediates: bool = False) -> dict[str, Any]:
        """Run the program. Returns the function outputs by name (all values when
        `keep_intermediates`, for layer-by-layer drift hunting)."""
        with _torch_threads(self.threads):
            return self._predict(feeds, keep_intermediates)

    def _predict(self, feeds: dict[str, Any], keep_intermediates: bool) -> dict[str, Any]:
        missing = [n for n in self.input_names if n not in feeds]
        if missing:
            raise ValueError(f"missing input(s) {', '.join(missing)}; the model takes {', '.join(self.input_names)}")
        env: dict[str, Any] = {name: self._input_array(name, feeds[name]) for name in self.input_names}
        for op in self.function.operations:
            if op.op_type == "const":
                env[op.outputs[0].name] = op.outputs[0].val
                continue
            values = {}
            for key, var in op.inputs.items():
                values[key] = [_value_of(v, env) for v in var] if isinstance(var, (list, tuple)) else _value_of(var, env)
            outputs = op.outputs
            args = OpArgs(op.op_type, op.name, values, [_declared_dtype(v) for v in outputs])
            try:
                result = OPS[op.op_type](args)
            except UnsupportedOperation:
                raise
            except Exception as exc:
                raise RuntimeError(f"MIL op {op.op_type} ({op.name}) failed: {type(exc).__name__}: {exc}") from exc
            results = result if isinstance(result, tuple) else (result,)
            if len(results) != len(outputs):
                raise RuntimeError(f"MIL op {op.op_type} ({op.name}) gave {len(results)} outputs, the program declares {len(outputs)}")
            for var, value in zip(outputs, results):
                env[var.name] = _finish(var, value, op)
        names = list(env) if keep_intermediates else self.output_names
        return {name: env[name] for name in names}


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Run with `threads` torch intra-op threads, then restore the previous count. One thread is
    the default: the ops run one after another on small tensors, where a thread pool mostly
    contends (60x slower per conv measured on a loaded 2-core machine)."""
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if threads:
            torch.set_num_threads(previous)


def _finish(var: Any, value: Any, op: Any) -> Any:
    """Cast an op result to its declared dtype (fp16 rounding happens here) and check its shape."""
    dtype = _declared_dtype(var)
    if dtype is None:
        return value
    if hasattr(value, "detach"):
        value = value.detach().numpy()
    array = np.asarray(value).astype(dtype, copy=False)
    shape = _declared_shape(var)
    if shape is not None and tuple(array.shape) != shape:
        raise RuntimeError(f"MIL op {op.op_type} ({op.name}) produced shape {tuple(array.shape)}, the program declares {shape}")
    return array


def _image_to_array(value: Any, info: dict[str, Any]) -> np.ndarray:
    """An image input as Core ML hands it to the program: (1, C, H, W) float32 pixel values 0..255."""
    layout = info.get("color_layout", "RGB")
    if hasattr(value, "convert"):  # PIL image
        mode = "L" if layout.startswith("GRAYSCALE") else "RGB"
        sizes = info.get("sizes") or [(info.get("width"), info.get("height"))]
        if (value.width, value.height) not in sizes:
            expected = " or ".join(f"{w}x{h}" for w, h in sizes)
            raise ValueError(f"image is {value.width}x{value.height}, the model expects {expected}")
        array = np.asarray(value.convert(mode), dtype=np.float32)
        array = array[None, None] if array.ndim == 2 else array.transpose(2, 0, 1)[None]
        if layout == "BGR":
            array = array[:, ::-1]
        return np.ascontiguousarray(array)
    return np.asarray(value, dtype=np.float32)

