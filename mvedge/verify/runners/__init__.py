"""Run an artifact in its own runtime: `open_runner(path)` picks the runner from the file type."""

from __future__ import annotations

import importlib
from pathlib import Path

from mvedge.artifact import Sidecar, artifact_type, checked_artifact
from mvedge.errors import BadInput
from mvedge.verify.runners.base import Runner, RuntimeUnavailable

_BY_TARGET = {
    "onnx": "mvedge.verify.runners.onnx:OnnxRunner",
    "executorch": "mvedge.verify.runners.executorch:ExecuTorchRunner",
    "tflite": "mvedge.verify.runners.litert:LiteRTRunner",
    "coreml": "mvedge.verify.runners.coreml:CoreMLRunner",
}


ARCHES = ("host", "arm64")
"""Where an artifact can run: on this machine's CPU, or on ARM64 kernels under emulation."""


def open_runner(path: str | Path, sidecar: Sidecar | None = None, arch: str = "host", **options) -> Runner:
    """A runner for the artifact at `path` (.onnx, .pte, .tflite, .mlpackage); `sidecar` as in
    `Runner`; `arch` "arm64" runs it on emulated ARM64 kernels (.tflite, .onnx). BadInput for a
    missing file or a type that cannot run here."""
    path = checked_artifact(path)
    kind = artifact_type(path)
    if not kind.runs_on_host:
        raise BadInput(f"{path.name} is a compiled {kind.target} model ({kind.suffix}) that runs only on the device; pass the artifact mvedge convert wrote")
    if arch not in ARCHES:
        raise BadInput(f"unknown architecture {arch!r}: pick one of {', '.join(ARCHES)}")
    if arch == "arm64":
        from mvedge.verify.runners.arm64 import Arm64Runner

        return Arm64Runner(path, sidecar=sidecar, **options)
    module_name, class_name = _BY_TARGET[kind.target].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(path, sidecar=sidecar, **options)


__all__ = ["ARCHES", "Runner", "RuntimeUnavailable", "open_runner"]
