"""Run an artifact in its own runtime: `open_runner(path)` picks the runner from the file type."""

from __future__ import annotations

import importlib
from pathlib import Path

from mvedge.verify.runners.base import Runner, RuntimeUnavailable, read_sidecar

_BY_SUFFIX = {
    ".onnx": "mvedge.verify.runners.onnx:OnnxRunner",
    ".pte": "mvedge.verify.runners.executorch:ExecuTorchRunner",
    ".tflite": "mvedge.verify.runners.litert:LiteRTRunner",
    ".mlpackage": "mvedge.verify.runners.coreml:CoreMLRunner",
}


def open_runner(path: str | Path, **options) -> Runner:
    """A runner for the artifact at `path` (.onnx, .pte, .tflite, .mlpackage)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"artifact {str(path)!r} does not exist")
    spec = _BY_SUFFIX.get(path.suffix)
    if spec is None:
        raise ValueError(f"unknown artifact type {path.suffix!r} for {str(path)!r}; expected one of {', '.join(_BY_SUFFIX)}")
    module_name, class_name = spec.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(path, **options)


__all__ = ["Runner", "RuntimeUnavailable", "open_runner", "read_sidecar"]
