"""LiteRT runner: ai-edge-litert's Interpreter (tflite-runtime's as a fallback), XNNPACK on by default."""

from __future__ import annotations

import numpy as np

from mvedge.artifact import Sidecar
from mvedge.verify.runners.base import Runner, RuntimeUnavailable
from mvedge.errors import BadInput


def _interpreter_module():
    """(Interpreter, OpResolverType, runtime name) from ai-edge-litert, else the old tflite-runtime."""
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        return Interpreter, OpResolverType, "ai-edge-litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter, OpResolverType

        return Interpreter, OpResolverType, "tflite-runtime"
    except ImportError as exc:
        raise RuntimeUnavailable('no LiteRT interpreter is installed: pip install "mvedge[tflite]"') from exc


PARTITION_METHOD = (
    "LiteRT interpreter after delegation: DELEGATE nodes are the partitions; each partition's nodes are "
    "found by walking back from its outputs to its inputs; the other original nodes run outside the delegate"
)


def litert_partitions(ops: list[dict]) -> dict:
    """Delegate partitions and the nodes left outside them, from the interpreter's node list after
    delegation (`Interpreter._get_ops_details()`: the original nodes first, then one DELEGATE node
    per partition; the replaced nodes stay listed but no longer run)."""
    delegates = [op for op in ops if op["op_name"] == "DELEGATE"]
    original = [op for op in ops if op["op_name"] != "DELEGATE"]
    if any(op["index"] >= len(original) for op in original):
        raise ValueError("DELEGATE nodes are not at the end of the node list; cannot tell which nodes they replaced")
    producer = {int(t): op["index"] for op in original for t in op["outputs"]}
    by_index = {op["index"]: op for op in original}
    covered: set[int] = set()
    for delegate in delegates:
        stop = {int(t) for t in delegate["inputs"]}
        stack = [int(t) for t in delegate["outputs"]]
        while stack:
            tensor = stack.pop()
            node = producer.get(tensor)
            if tensor in stop or node is None or node in covered:
                continue
            covered.add(node)
            stack.extend(int(t) for t in by_index[node]["inputs"] if int(t) >= 0)
    outside: dict[str, int] = {}
    for op in original:
        if op["index"] not in covered:
            outside[op["op_name"]] = outside.get(op["op_name"], 0) + 1
    return {
        "delegate": "XNNPACK",
        "partitions": len(delegates),
        "nodes_delegated": len(covered),
        "nodes_outside": sum(outside.values()),
        "ops_outside": dict(sorted(outside.items())),
        "method": PARTITION_METHOD,
    }


class LiteRTRunner(Runner):
    """Runs a .tflite in the LiteRT interpreter.

    Options: `threads` (interpreter threads; default: LiteRT's choice), `xnnpack` (True: the
    default XNNPACK CPU delegate, as on phones; False: the builtin reference-style kernels only),
    `preserve_all_tensors` (keep every intermediate tensor readable after a run, for drift
    localisation; meaningful with xnnpack=False, since a delegate's internals are not kept).
    Handles NHWC inputs (from the sidecar, else from the input shape) and int8/uint8 input/output
    quantization (from the model's own tensor details). `method`: the signature to run in a
    multi-size .tflite (the sidecar's `input.methods`; default: the model's first subgraph).
    """

    target = "tflite"

    def __init__(self, path, threads: int | None = None, xnnpack: bool = True, preserve_all_tensors: bool = False, sidecar: Sidecar | None = None, **options) -> None:
        super().__init__(path, sidecar, **options)
        interpreter_cls, resolver, self.runtime = _interpreter_module()
        resolver_type = resolver.AUTO if xnnpack else resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        kwargs = {"model_path": str(self.path), "experimental_op_resolver_type": resolver_type}
        if threads:
            kwargs["num_threads"] = int(threads)
        if preserve_all_tensors:
            kwargs["experimental_preserve_all_tensors"] = True
        try:
            self.interpreter = interpreter_cls(**kwargs)
            self.interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if "Flex" in message or "Select TensorFlow op" in message:
                raise RuntimeUnavailable(f"the model needs TensorFlow Flex ops, which {self.runtime} cannot run: {message}") from exc
            raise
        self.signature = options.get("method")
        self.signature_runner = self.interpreter.get_signature_runner(self.signature) if self.signature else None
        if self.signature_runner is not None:
            inputs, outputs = self.signature_runner.get_input_details(), self.signature_runner.get_output_details()
            self.input_key = next(iter(inputs))
            self.input = inputs[self.input_key]
            keys = self.output_names or [self.sidecar.output.name if self.sidecar is not None and self.sidecar.output.name in outputs else next(iter(outputs))]
            self.outputs = [{**outputs[k], "key": k} for k in keys]
            self.output = self.outputs[0]
        else:
            self.input = self.interpreter.get_input_details()[0]
            self.output = self.interpreter.get_output_details()[0]
            self.outputs = self._outputs_by_name() if self.output_names else [self.output]
        self.threads = threads
        self.delegate_partitions = self._delegate_partitions()
        self.delegate = "XNNPACK" if xnnpack and self.delegate_partitions else "none (builtin kernels)"
        self.layout = self._layout()

    def _outputs_by_name(self) -> list[dict]:
        """The tensor details of each output the sidecar lists, found by signature output name
        (LiteRT may order a model's outputs otherwise than they were asked for)."""
        signatures = self.interpreter._get_full_signature_list()
        by_index = {d["index"]: d for d in self.interpreter.get_output_details()}
        if len(signatures) != 1:
            raise BadInput(f"{self.path.name} has {len(signatures)} signatures; a multi-output artifact has one, naming its outputs")
        (signature,) = signatures.values()
        missing = [n for n in self.output_names if n not in signature["outputs"]]
        if missing:
            raise BadInput(f"{self.path.name} has no signature output {missing[0]!r} (it has {sorted(signature['outputs'])}); re-run mvedge convert")
        return [by_index[signature["outputs"][n]] for n in self.output_names]

    def _delegate_partitions(self) -> int:
        """How many graph partitions a delegate took (0 when none applied)."""
        try:
            return sum(1 for op in self.interpreter._get_ops_details() if op.get("op_name") == "DELEGATE")
        except Exception:  # private API: absent in some versions
            return 0

    def partitions(self) -> dict:
        """Delegate partitions and nodes outside them (`litert_partitions`)."""
        return litert_partitions(self.interpreter._get_ops_details())

    def _layout(self) -> str:
        """NCHW or NHWC: the sidecar says; without one, guess from the input shape (channels 1 or 3)."""
        if self.sidecar is not None:
            return self.sidecar.input.layout
        shape = list(self.input["shape"])
        return "NHWC" if len(shape) == 4 and shape[-1] in (1, 3) and shape[1] not in (1, 3) else "NCHW"

    @property
    def batch(self) -> int:
        """The model's fixed batch size."""
        return int(self.input["shape"][0])

    def describe(self) -> dict:
        """Runtime, delegate and I/O facts (for reports)."""
        return {
            "runtime": self.runtime,
            "delegate": self.delegate,
            "delegate_partitions": self.delegate_partitions,
            "threads": self.threads,
            "input_layout": self.layout,
            "input_dtype": np.dtype(self.input["dtype"]).name,
            "output_dtype": np.dtype(self.output["dtype"]).name,
        }

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.run_outputs(batch)[0]

    def run_outputs(self, batch: np.ndarray) -> list[np.ndarray]:
        """Every output the sidecar lists, by signature name, in its order (the one output otherwise)."""
        batch = np.asarray(batch, dtype=np.float32)
        if batch.ndim != 4:
            raise ValueError(f"expected a batch of images (N, C, H, W), got shape {batch.shape}")
        parts = [self._invoke(batch[i : i + self.batch]) for i in range(0, len(batch), self.batch)]
        return [np.concatenate([part[k] for part in parts], axis=0) for k in range(len(self.outputs))]

    def run_all(self, images: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Outputs for many images, in groups of the model's fixed batch."""
        return super().run_all(images, batch_size or self.batch)

    def run_all_outputs(self, images: np.ndarray, batch_size: int | None = None) -> list[np.ndarray]:
        """Every output for many images, in groups of the model's fixed batch."""
        return super().run_all_outputs(images, batch_size or self.batch)

    def _invoke(self, chunk: np.ndarray) -> list[np.ndarray]:
        count = len(chunk)
        if count < self.batch:  # top up a short last group; its extra rows are dropped below
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], self.batch - count, axis=0)])
        if self.layout == "NHWC":
            chunk = chunk.transpose(0, 2, 3, 1)
        expected = tuple(int(d) for d in self.input["shape"])
        if tuple(chunk.shape) != expected:
            raise ValueError(f"input of shape {tuple(chunk.shape)} ({self.layout}) does not match the model's {expected}")
        if self.signature_runner is not None:  # one signature of a multi-size .tflite
            results = self.signature_runner(**{self.input_key: _quantize(np.ascontiguousarray(chunk), self.input)})
            got = [dequantize(results[d["key"]], d) for d in self.outputs]
            return [got[0].reshape(self.batch, -1)[:count]] if self.output_names is None else [g[:count] for g in got]
        self.interpreter.set_tensor(self.input["index"], _quantize(np.ascontiguousarray(chunk), self.input))
        self.interpreter.invoke()
        if self.output_names is None:  # one output: (N, K) as it has always been returned
            out = dequantize(self.interpreter.get_tensor(self.output["index"]), self.output)
            return [out.reshape(self.batch, -1)[:count]]
        return [dequantize(self.interpreter.get_tensor(d["index"]), d)[:count] for d in self.outputs]


def _scale_zero_point(detail: dict) -> tuple[float, int]:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    if not scale:
        params = detail.get("quantization_parameters", {})
        scales, zero_points = params.get("scales", []), params.get("zero_points", [])
        if len(scales) == 1:
            scale, zero_point = float(scales[0]), int(zero_points[0])
    if not scale:
        raise BadInput(f"integer tensor {detail.get('name')!r} has no per-tensor quantization parameters")
    return float(scale), int(zero_point)


def _quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    """Float input to the tensor's dtype (int8/uint8/int16 with its scale and zero point)."""
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return x.astype(dtype)
    scale, zero_point = _scale_zero_point(detail)
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(dtype)


def dequantize(y: np.ndarray, detail: dict) -> np.ndarray:
    """An integer output back to float32 with its scale and zero point."""
    if np.dtype(detail["dtype"]).kind == "f":
        return y.astype(np.float32)
    scale, zero_point = _scale_zero_point(detail)
    return ((y.astype(np.float32) - zero_point) * scale).astype(np.float32)
