"""The ARM64 side of `--arch arm64`: runs inside the emulated Python with numpy and one runtime.

It imports nothing from mvedge (the emulated userland has only numpy and the runtimes): it reads
preprocessed NCHW float32 images from an .npy file, runs them through the artifact in its runtime,
writes the (N, K) float32 outputs to another .npy, and a JSON file saying which runtime version
ran and which CPU features the emulated CPU reported. The host computes the metrics.

    python3.11 guest.py probe INFO.json
    python3.11 guest.py run tflite|onnx|executorch ARTIFACT INPUTS.npy OUTPUTS.npy INFO.json [--layout NCHW|NHWC] [--threads N] [--no-xnnpack] [--force-fp16]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import sys
import time

AT_HWCAP, AT_HWCAP2 = 16, 26
HWCAP_NAMES = (
    "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc "
    "dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs sb paca pacg"
).split()
HWCAP2_NAMES = (
    "dcpodp sve2 sveaes svepmull svebitperm svesha3 svesm4 flagm2 frint svei8mm svef32mm svef64mm "
    "svebf16 i8mm bf16 dgh rng bti mte ecv afp rpres mte3 sme sme_i16i64 sme_f64f64 sme_i8i32 "
    "sme_f16f32 sme_b16f32 sme_f32f32 sme_fa64 wfxt ebf16 sve_ebf16 cssc rprfm sve2p1"
).split()
"""Linux's arm64 hwcap bit names (arch/arm64/include/uapi/asm/hwcap.h), in bit order."""


def cpu_features() -> list[str]:
    """The CPU features the (emulated) kernel reports to this process, by Linux's hwcap names."""
    libc = ctypes.CDLL(None)
    libc.getauxval.restype = ctypes.c_ulong
    libc.getauxval.argtypes = [ctypes.c_ulong]
    return feature_names(libc.getauxval(AT_HWCAP), libc.getauxval(AT_HWCAP2))


def feature_names(hwcap: int, hwcap2: int) -> list[str]:
    """Names of the bits set in AT_HWCAP and AT_HWCAP2."""
    names = [name for bit, name in enumerate(HWCAP_NAMES) if hwcap >> bit & 1]
    return names + [name for bit, name in enumerate(HWCAP2_NAMES) if hwcap2 >> bit & 1]


def _scale_zero_point(detail: dict) -> tuple[float, int]:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    if not scale:
        params = detail.get("quantization_parameters", {})
        if len(params.get("scales", [])) == 1:
            scale, zero_point = float(params["scales"][0]), int(params["zero_points"][0])
    if not scale:
        raise SystemExit(f"integer tensor {detail.get('name')!r} has no per-tensor quantization parameters")
    return float(scale), int(zero_point)


XNNPACK_FLAG_FORCE_FP16 = 0x4
"""TFLITE_XNNPACK_DELEGATE_FLAG_FORCE_FP16 (tensorflow/lite/delegates/xnnpack/xnnpack_delegate.h)."""


class _XnnpackOptions(ctypes.Structure):
    """The leading fields of TfLiteXNNPackDelegateOptions (num_threads, flags), with room for the rest."""

    _fields_ = [("num_threads", ctypes.c_int32), ("flags", ctypes.c_uint32), ("rest", ctypes.c_uint8 * 1024)]


class _Delegate:
    """A delegate made through the C API, in the form Interpreter(experimental_delegates=...) takes."""

    def __init__(self, pointer: int) -> None:
        self.pointer = pointer

    def _get_native_delegate_pointer(self) -> int:
        return self.pointer


def xnnpack_delegate(threads: int | None, force_fp16: bool) -> tuple[_Delegate, dict]:
    """An XNNPACK delegate made with the wheel's own C API (its Python API has no XNNPACK options),
    fp16 arithmetic forced when asked, as ARMv8.2 phones run fp16 models; with the flags asked and
    the flags the delegate reports."""
    import os

    import ai_edge_litert

    lib = ctypes.CDLL(os.path.join(os.path.dirname(ai_edge_litert.__file__), "libLiteRtRuntimeCApi.so"))
    lib.TfLiteXNNPackDelegateOptionsDefault.restype = _XnnpackOptions
    lib.TfLiteXNNPackDelegateCreate.restype = ctypes.c_void_p
    lib.TfLiteXNNPackDelegateCreate.argtypes = [ctypes.POINTER(_XnnpackOptions)]
    lib.TfLiteXNNPackDelegateGetFlags.restype = ctypes.c_uint32
    lib.TfLiteXNNPackDelegateGetFlags.argtypes = [ctypes.c_void_p]
    options = lib.TfLiteXNNPackDelegateOptionsDefault()
    if force_fp16:
        options.flags |= XNNPACK_FLAG_FORCE_FP16
    if threads:
        options.num_threads = threads
    pointer = lib.TfLiteXNNPackDelegateCreate(ctypes.byref(options))
    if not pointer:
        raise RuntimeError("TfLiteXNNPackDelegateCreate gave no delegate")
    return _Delegate(pointer), {"asked": options.flags, "reported": lib.TfLiteXNNPackDelegateGetFlags(pointer)}


def batches(images, batch: int):
    """(chunk, count) for each run of an artifact with a fixed batch: `count` real images, the last
    chunk topped up by repeating its last image."""
    import numpy as np

    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        count = len(chunk)
        if count < batch:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch - count, axis=0)])
        yield chunk, count


def run_litert(path: str, images, layout: str, threads: int | None, xnnpack: bool, delegate_flags: str | None = None) -> tuple:
    """LiteRT, as the host's runner feeds it: fixed batch, NHWC when the artifact says, int I/O
    quantized; `delegate_flags` "default" or "force-fp16": XNNPACK made through its C API."""
    import numpy as np
    from importlib.metadata import version as installed

    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kwargs = {"model_path": path, "experimental_op_resolver_type": OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
    if threads:
        kwargs["num_threads"] = threads
    flags = None
    if delegate_flags:
        made, flags = xnnpack_delegate(threads, delegate_flags == "force-fp16")
        kwargs["experimental_delegates"] = [made]
        kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interpreter = Interpreter(**kwargs)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    try:
        partitions = sum(1 for op in interpreter._get_ops_details() if op.get("op_name") == "DELEGATE")
    except Exception:  # private API
        partitions = 0
    batch = int(inp["shape"][0])
    outputs = []
    for chunk, count in batches(images, batch):
        if layout == "NHWC":
            chunk = chunk.transpose(0, 2, 3, 1)
        chunk = np.ascontiguousarray(chunk)
        dtype = np.dtype(inp["dtype"])
        if dtype.kind != "f":
            scale, zero = _scale_zero_point(inp)
            info = np.iinfo(dtype)
            chunk = np.clip(np.round(chunk / scale) + zero, info.min, info.max)
        interpreter.set_tensor(inp["index"], chunk.astype(dtype))
        interpreter.invoke()
        y = interpreter.get_tensor(out["index"])
        if np.dtype(out["dtype"]).kind != "f":
            scale, zero = _scale_zero_point(out)
            y = (y.astype(np.float32) - zero) * scale
        outputs.append(y.astype(np.float32).reshape(batch, -1)[:count])
    delegate = "XNNPACK delegate" if xnnpack and partitions else "builtin kernels"
    facts = {"runtime": f"ai-edge-litert {installed('ai-edge-litert')}", "delegate": delegate, "delegate_partitions": partitions}
    if flags is not None:
        facts["xnnpack_flags"] = flags
    result = np.concatenate(outputs)
    if delegate_flags == "force-fp16":  # the delegate reports no flag back: check that it changed the arithmetic
        plain, _ = run_litert(path, images[:batch], layout, threads, xnnpack, "default")
        facts["fp16_effect_max_abs"] = float(np.abs(plain - result[: len(plain)]).max())
        if facts["fp16_effect_max_abs"] == 0.0:
            raise RuntimeError("forcing XNNPACK's fp16 arithmetic changed no output: the flag was not taken")
        facts["delegate"] = "XNNPACK delegate, fp16 arithmetic forced"
    return result, facts


def run_onnx(path: str, images, threads: int | None) -> tuple:
    """onnxruntime's CPU execution provider, batches of 16 as on the host."""
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    outputs = [session.run(None, {name: images[i : i + 16].astype(np.float32)})[0] for i in range(0, len(images), 16)]
    return np.concatenate(outputs).astype(np.float32), {"runtime": f"onnxruntime {ort.__version__}", "delegate": "CPUExecutionProvider"}


def _runtime_without_compiler() -> None:
    """executorch's runtime module imports `executorch.exir._warnings`, whose package __init__ loads
    the whole ahead-of-time compiler (torch.export, yaml, many minutes under emulation): the package
    is registered bare, so its submodules load from the same folder without it."""
    import importlib.util
    import os
    import types

    if "executorch.exir" not in sys.modules:
        spec = importlib.util.find_spec("executorch")
        package = types.ModuleType("executorch.exir")
        package.__path__ = [os.path.join(spec.submodule_search_locations[0], "exir")]
        sys.modules["executorch.exir"] = package


def run_executorch(path: str, images, threads: int | None) -> tuple:
    """ExecuTorch's Python runtime, as the host's runner runs it: the program loaded from its file,
    its static batch, the last short batch padded. torch is imported only because the runtime's
    extension links libtorch; nothing here touches CUDA."""
    import warnings
    from importlib.metadata import version as installed

    import numpy as np

    start = time.perf_counter()
    _runtime_without_compiler()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ExperimentalWarning: the pybind API is marked experimental
        import torch
        from executorch.extension.pybindings import portable_lib
        from executorch.runtime import Runtime

        if threads and portable_lib._threadpool_get_thread_count() != threads:
            portable_lib._unsafe_reset_threadpool(threads)
    import_seconds = time.perf_counter() - start
    runtime = Runtime.get()
    blob = open(path, "rb").read()
    backends = [name for name in runtime.backend_registry.registered_backend_names if name.encode() in blob]
    method = runtime.load_program(path).load_method("forward")
    batch = int(method.metadata.input_tensor_meta(0).sizes()[0])
    outputs = []
    for chunk, count in batches(images, batch):
        y = method.execute([torch.from_numpy(np.ascontiguousarray(chunk, dtype=np.float32))])[0]
        outputs.append(y.detach().numpy().astype(np.float32).reshape(batch, -1)[:count])
    kernels = "XNNPACK delegate" if "XnnpackBackend" in backends else "portable kernels"
    facts = {"runtime": f"executorch {installed('executorch')}", "delegate": kernels, "torch": torch.__version__,
             "import_seconds": round(import_seconds, 1)}
    return np.concatenate(outputs), facts


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="guest.py")
    sub = parser.add_subparsers(dest="command", required=True)
    probe = sub.add_parser("probe")
    probe.add_argument("info")
    run = sub.add_parser("run")
    run.add_argument("runtime", choices=["tflite", "onnx", "executorch"])
    for name in ("artifact", "inputs", "outputs", "info"):
        run.add_argument(name)
    run.add_argument("--layout", default="NCHW", choices=["NCHW", "NHWC"])
    run.add_argument("--threads", type=int)
    run.add_argument("--no-xnnpack", action="store_true")
    run.add_argument("--xnnpack-flags", choices=["default", "force-fp16"])
    args = parser.parse_args(argv)
    info = {"machine": __import__("platform").machine(), "cpu_features": cpu_features()}
    if args.command == "run":
        import numpy as np

        images = np.load(args.inputs)
        start = time.perf_counter()
        if args.runtime == "tflite":
            outputs, facts = run_litert(args.artifact, images, args.layout, args.threads, not args.no_xnnpack, args.xnnpack_flags)
        elif args.runtime == "executorch":
            outputs, facts = run_executorch(args.artifact, images, args.threads)
        else:
            outputs, facts = run_onnx(args.artifact, images, args.threads)
        info.update(facts, run_seconds=round(time.perf_counter() - start, 3), numpy=np.__version__)
        np.save(args.outputs, outputs)
    with open(args.info, "w") as handle:
        json.dump(info, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
