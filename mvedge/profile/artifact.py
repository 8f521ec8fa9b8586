"""What an artifact is, from its file type and sidecar: target, runtime, precision, input shape, hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mvedge.profile.schema import RUNTIME_OF_TARGET
from mvedge.verify.runners.base import read_sidecar

SUFFIX_TARGET = {".onnx": "onnx", ".pte": "executorch", ".tflite": "tflite", ".mlpackage": "coreml", ".mlmodelc": "coreml"}


def target_of(path: str | Path) -> str:
    """The target an artifact file belongs to; ValueError for an unknown file type."""
    path = Path(path)
    target = SUFFIX_TARGET.get(path.suffix)
    if target is None:
        raise ValueError(f"unknown artifact type {path.suffix!r} for {str(path)!r}; expected one of {', '.join(SUFFIX_TARGET)}")
    return target


def runtime_of(path: str | Path) -> str:
    """The runtime that runs an artifact (litert, executorch, coreml, onnxruntime)."""
    return RUNTIME_OF_TARGET[target_of(path)]


def checked_artifact(path: str | Path) -> Path:
    """The artifact's path after checking it exists and has a known type."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"artifact {str(path)!r} does not exist")
    target_of(path)
    return path


def sha256_of(path: str | Path) -> str:
    """sha256 of a file, or of a folder's files (sorted relative paths and contents), as in sidecars."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def precision_of(path: str | Path) -> str | None:
    """The precision the sidecar records, or None without a sidecar."""
    return read_sidecar(path).get("precision")


def input_shape(sidecar: dict) -> tuple[int, int, int, int] | None:
    """(batch, channels, height, width) from a sidecar, or None when it does not say."""
    spec = sidecar.get("input") or {}
    shape = spec.get("shape")
    if not shape or len(shape) != 4:
        return None
    if spec.get("layout") == "NHWC":
        batch, height, width, channels = shape
    else:
        batch, channels, height, width = shape
    return int(batch), int(channels), int(height), int(width)
