"""onnxruntime runner (CPU execution provider)."""

from __future__ import annotations

import numpy as np

from mvedge.artifact import Sidecar
from mvedge.verify.runners.base import Runner, RuntimeUnavailable


class OnnxRunner(Runner):
    """Runs a .onnx file in onnxruntime; `threads` sets the intra-op thread count."""

    target = "onnx"

    def __init__(self, path, threads: int | None = None, sidecar: Sidecar | None = None, **options) -> None:
        super().__init__(path, sidecar, **options)
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise RuntimeUnavailable('onnxruntime is not installed: pip install "mvedge[onnx]"') from exc
        session_options = ort.SessionOptions()
        if threads:
            session_options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(self.path), session_options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch.astype(np.float32)})[0]

    def run_outputs(self, batch: np.ndarray) -> list[np.ndarray]:
        """Every output, fetched by name in the sidecar's order."""
        names = self.output_names or [self.session.get_outputs()[0].name]
        return list(self.session.run(names, {self.input_name: batch.astype(np.float32)}))

    def run_all(self, images: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """The batch dimension is dynamic: run in batches of 16."""
        return super().run_all(images, batch_size or 16)

    def run_all_outputs(self, images: np.ndarray, batch_size: int | None = None) -> list[np.ndarray]:
        """The batch dimension is dynamic: run in batches of 16."""
        return super().run_all_outputs(images, batch_size or 16)
