"""ExecuTorch runner: loads a .pte from its file (as apps do) through the executorch.runtime API."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mvedge.artifact import Sidecar
from mvedge.verify.runners.base import Runner, RuntimeUnavailable
from mvedge.errors import BadInput, Failed

APPLE_ONLY_BACKENDS = ("CoreMLBackend", "MPSBackend")


def required_backends(path: str | Path, sidecar: Sidecar | None) -> list[str]:
    """Delegate backends a .pte needs: from the sidecar, else by their ids in the flatbuffer."""
    backend = sidecar.backend if sidecar is not None else None
    if backend:
        return [backend]
    blob = Path(path).read_bytes()
    return [name for name in ("XnnpackBackend", *APPLE_ONLY_BACKENDS) if name.encode() in blob]


def set_threads(threads: int) -> None:
    """Resize ExecuTorch's process-wide CPU thread pool (XNNPACK and the optimized kernels use it)."""
    import warnings

    from executorch.extension.pybindings import portable_lib

    if threads < 1:
        raise BadInput(f"threads must be >= 1, got {threads}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ExperimentalWarning: the pybind API is marked experimental
        if portable_lib._threadpool_get_thread_count() != threads:
            portable_lib._unsafe_reset_threadpool(threads)


class ExecuTorchRunner(Runner):
    """Runs a .pte in the ExecuTorch Python runtime. `threads` resizes the runtime's thread pool,
    which is process-wide: the last runner opened with `threads` sets it for all."""

    target = "executorch"

    def __init__(self, path, threads: int | None = None, sidecar: Sidecar | None = None, **options) -> None:
        super().__init__(path, sidecar, **options)
        try:
            from executorch.runtime import Runtime
        except ImportError as exc:
            raise RuntimeUnavailable('the ExecuTorch runtime is not installed: pip install "mvedge[executorch]"') from exc
        runtime = Runtime.get()
        for backend in required_backends(self.path, self.sidecar):
            if not runtime.backend_registry.is_available(backend):
                if backend in APPLE_ONLY_BACKENDS:
                    raise RuntimeUnavailable(
                        f"{self.path.name} is delegated to {backend}, which runs only on Apple devices (iOS/macOS); "
                        "this ExecuTorch runtime does not have it, so the artifact cannot run here"
                    )
                raise RuntimeUnavailable(f"this ExecuTorch runtime has no {backend}, which {self.path.name} needs")
        if threads is not None:
            set_threads(int(threads))
        try:
            self.program = runtime.load_program(self.path)  # from the file, like an app (not from bytes)
            self.method = self.program.load_method(options.get("method") or "forward")  # a multi-size .pte: one method per size
        except RuntimeError as exc:
            raise Failed(f"ExecuTorch could not load {self.path.name}: {exc}") from exc
        self.input_dtype = self.sidecar.input.dtype if self.sidecar is not None else "float32"

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.run_outputs(batch)[0]

    def run_outputs(self, batch: np.ndarray) -> list[np.ndarray]:
        """Every output of the method, in the order the program returns them (the sidecar's)."""
        import torch

        if self.input_dtype != "float32":
            raise BadInput(f"{self.path.name}: input dtype {self.input_dtype} is not supported by this runner (float32 only)")
        outputs = self.method.execute([torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))])
        return [out.detach().numpy().copy() for out in outputs]

    def run_all(self, images: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """The .pte has a static batch: run in its batch size, padding the last short batch."""
        return self._padded(images, batch_size, lambda chunk: [self.run(chunk)])[0]

    def run_all_outputs(self, images: np.ndarray, batch_size: int | None = None) -> list[np.ndarray]:
        """Every output for many images, in the static batch size, padding the last short batch."""
        return self._padded(images, batch_size, self.run_outputs)

    def _padded(self, images: np.ndarray, batch_size: int | None, run) -> list[np.ndarray]:
        size = batch_size or self.sidecar_batch
        parts = []
        for start in range(0, len(images), size):
            chunk = images[start : start + size]
            short = size - len(chunk)
            if short:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], short, axis=0)])
            parts.append([out[: size - short] for out in run(chunk)])
        return [np.concatenate([part[k] for part in parts], axis=0) for k in range(len(parts[0]))]
