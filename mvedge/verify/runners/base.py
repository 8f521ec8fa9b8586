"""The runner interface: an artifact in, logits for a batch of preprocessed images out."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from mvedge.errors import Failed


class RuntimeUnavailable(Failed):
    """The runtime an artifact needs is not installed or cannot run on this machine."""


def sidecar_path(artifact: str | Path) -> Path:
    """Where an artifact's sidecar JSON lives: next to it, '<artifact name>.json'."""
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".json")


def read_sidecar(artifact: str | Path) -> dict:
    """The artifact's sidecar metadata, or {} when there is none."""
    path = sidecar_path(artifact)
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


class Runner(ABC):
    """Runs one artifact. `run` takes preprocessed NCHW float32 images and returns (N, K) outputs;
    layout and dtype conversions the artifact needs (NHWC, int8 I/O) happen inside."""

    target: str = ""

    def __init__(self, path: str | Path, **options) -> None:
        self.path = Path(path)
        self.sidecar = read_sidecar(self.path)
        self.options = options

    @abstractmethod
    def run(self, batch: np.ndarray) -> np.ndarray:
        """Outputs for a batch (N, C, H, W) float32."""

    def run_all(self, images: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Outputs for many images, in batches of the artifact's fixed batch size (default 1)."""
        size = batch_size or int(self.sidecar.get("input", {}).get("batch", 1) or 1)
        outs = [self.run(np.ascontiguousarray(images[i : i + size])) for i in range(0, len(images), size)]
        return np.concatenate(outs, axis=0)
