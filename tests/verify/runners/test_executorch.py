"""ExecuTorch runner: runs a .pte from its file in fixed batches, sets the thread pool, and refuses
(RuntimeUnavailable) what this runtime cannot run: Apple-only delegates, a missing install."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("executorch")

from mvedge.verify.runners import RuntimeUnavailable, open_runner  # noqa: E402
from tests.sidecars import write_test_sidecar  # noqa: E402
from mvedge.verify.runners.executorch import ExecuTorchRunner, required_backends  # noqa: E402


class Small(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, 2, 1)
        self.head = torch.nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))


@pytest.fixture(scope="module")
def model() -> Small:
    torch.manual_seed(0)
    return Small().eval()


@pytest.fixture(scope="module")
def pte(model: Small, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A batch-2 XNNPACK .pte with a sidecar saying so."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    program = torch.export.export(model, (torch.randn(2, 3, 16, 16),))
    path = tmp_path_factory.mktemp("pte") / "small.pte"
    path.write_bytes(to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch().buffer)
    return write_test_sidecar(path, target="executorch", shape=(2, 3, 16, 16), conversion={"backend": "XnnpackBackend"})


def test_runs_in_the_static_batch_padding_the_last_one(model: Small, pte: Path) -> None:
    runner = open_runner(pte)
    assert isinstance(runner, ExecuTorchRunner)
    x = np.random.default_rng(0).standard_normal((5, 3, 16, 16)).astype(np.float32)
    out = runner.run_all(x)  # batches of 2: the fifth image is padded and its copy dropped
    with torch.no_grad():
        reference = model(torch.from_numpy(x)).numpy()
    assert out.shape == (5, 5) and np.abs(out - reference).max() < 1e-5


def test_threads_resize_the_runtime_pool(pte: Path) -> None:
    from executorch.extension.pybindings import portable_lib

    before = portable_lib._threadpool_get_thread_count()
    try:
        open_runner(pte, threads=1)
        assert portable_lib._threadpool_get_thread_count() == 1
    finally:
        portable_lib._unsafe_reset_threadpool(before)
    with pytest.raises(ValueError, match="threads must be >= 1"):
        open_runner(pte, threads=-2)


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS runtimes may have the CoreML delegate")
def test_a_coreml_delegated_pte_is_refused_on_linux(pte: Path, tmp_path: Path) -> None:
    fake = tmp_path / "apple.pte"
    fake.write_bytes(pte.read_bytes() + b"CoreMLBackend")  # the delegate id as a .pte stores it
    assert "CoreMLBackend" in required_backends(fake, None)
    with pytest.raises(RuntimeUnavailable, match="runs only on Apple devices"):
        open_runner(fake)
    write_test_sidecar(fake, target="executorch", precision="coreml-fp16", conversion={"backend": "CoreMLBackend"})
    with pytest.raises(RuntimeUnavailable, match="CoreMLBackend, which runs only on Apple devices"):
        open_runner(fake)


def test_missing_runtime_is_runtime_unavailable(pte: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "executorch.runtime", None)  # import fails as if not installed
    with pytest.raises(RuntimeUnavailable, match=r'pip install "mvedge\[executorch\]"'):
        open_runner(pte)


def test_a_damaged_file_fails_loudly(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pte"
    broken.write_bytes(b"not a program")
    with pytest.raises(RuntimeError, match="ExecuTorch could not load broken.pte"):
        open_runner(broken)
