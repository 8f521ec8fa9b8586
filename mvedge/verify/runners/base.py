"""The runner interface: an artifact in, logits for a batch of preprocessed images out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from mvedge.artifact import Sidecar, read_sidecar
from mvedge.errors import Failed



class RuntimeUnavailable(Failed):
    """The runtime an artifact needs is not installed or cannot run on this machine."""


class Runner(ABC):
    """Runs one artifact. `run` takes preprocessed NCHW float32 images and returns (N, K) outputs;
    layout and dtype conversions the artifact needs (NHWC, int8 I/O) happen inside.

    `sidecar`: the artifact's sidecar when the caller has it in hand (the convert pipeline verifies
    before writing it); otherwise the one next to the artifact is read, and a bare artifact without
    one runs on what the runtime itself reports (`self.sidecar` is then None)."""

    target: str = ""
    whole_set: bool = False
    """True for a runner that takes all images at once (one emulated process), not batch by batch."""

    def __init__(self, path: str | Path, sidecar: Sidecar | None = None, **options) -> None:
        self.path = Path(path)
        self.sidecar = sidecar if sidecar is not None else read_sidecar(self.path, required=False)
        self.options = options

    @property
    def sidecar_batch(self) -> int:
        """The artifact's fixed batch per its sidecar (1 without a sidecar)."""
        return self.sidecar.input.batch if self.sidecar is not None and self.sidecar.input.batch else 1

    @property
    def output_names(self) -> list[str] | None:
        """The artifact's outputs in output order, per a sidecar that lists several; None for a
        single-output artifact (its one output is what `run` returns)."""
        outputs = self.sidecar.all_outputs() if self.sidecar is not None else []
        return [str(o.name) for o in outputs] if len(outputs) > 1 else None

    @abstractmethod
    def run(self, batch: np.ndarray) -> np.ndarray:
        """Outputs for a batch (N, C, H, W) float32 (the first output of a multi-output artifact)."""

    def run_outputs(self, batch: np.ndarray) -> list[np.ndarray]:
        """Every output for a batch, in the sidecar's output order (one for a single-output artifact)."""
        return [self.run(batch)]

    def run_all(self, images: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Outputs for many images, in batches of the artifact's fixed batch size (default 1)."""
        size = batch_size or self.sidecar_batch
        outs = [self.run(np.ascontiguousarray(images[i : i + size])) for i in range(0, len(images), size)]
        return np.concatenate(outs, axis=0)

    def run_all_outputs(self, images: np.ndarray, batch_size: int | None = None) -> list[np.ndarray]:
        """Every output for many images (`run_outputs` batch by batch), in output order."""
        if self.output_names is None:
            return [self.run_all(images, batch_size)]
        size = batch_size or self.sidecar_batch
        parts = [self.run_outputs(np.ascontiguousarray(images[i : i + size])) for i in range(0, len(images), size)]
        return [np.concatenate([part[k] for part in parts], axis=0) for k in range(len(parts[0]))]

    def describe(self) -> dict:
        """Facts about what ran, for reports (none by default)."""
        return {}
