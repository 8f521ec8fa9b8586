"""Targets by name: `get_converter("onnx")`."""

from __future__ import annotations

import importlib

from converters.base import BadRequest, Converter

_TARGETS = {
    "coreml": "converters.coreml:CoreMLConverter",
    "tflite": "converters.tflite:TFLiteConverter",
    "executorch": "converters.executorch:ExecuTorchConverter",
    "onnx": "converters.onnx:OnnxConverter",
}

TARGETS: tuple[str, ...] = tuple(_TARGETS)


def get_converter(target: str) -> Converter:
    """The converter of a target name; BadRequest for an unknown one."""
    spec = _TARGETS.get(target)
    if spec is None:
        raise BadRequest(f"unknown target {target!r}; choose one of {', '.join(TARGETS)} or all")
    module_name, class_name = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise BadRequest(f"target {target!r} is not part of this mvedge build") from exc
    return getattr(module, class_name)()
