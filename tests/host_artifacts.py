"""Tiny artifacts of every host-profilable type (built in seconds), each with a sidecar: fixtures
for the profiler tests and `mvedge profile`'s (a plugin of tests/conftest.py, so both folders share them)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.sidecars import write_test_sidecar


class Tiny(torch.nn.Module):
    """Conv, relu, linear: enough operators for a breakdown, small enough to export in seconds."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.head = torch.nn.Linear(8 * 8 * 8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(x)).flatten(1))


def _sidecar(path: Path, target: str, precision: str = "fp32") -> Path:
    conversion = {"backend": "XnnpackBackend"} if target == "executorch" else {}
    return write_test_sidecar(path, target=target, precision=precision, conversion=conversion)


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="session")
def tiny_onnx(artifacts_dir: Path) -> Path:
    pytest.importorskip("onnxruntime")
    path = artifacts_dir / "tiny-onnx-fp32.onnx"
    torch.onnx.export(Tiny().eval(), (torch.randn(1, 3, 16, 16),), str(path), dynamo=False, input_names=["image"])
    return _sidecar(path, "onnx")


@pytest.fixture(scope="session")
def tiny_pte(artifacts_dir: Path) -> Path:
    pytest.importorskip("executorch")
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    program = torch.export.export(Tiny().eval(), (torch.randn(1, 3, 16, 16),))
    path = artifacts_dir / "tiny-executorch-fp32.pte"
    path.write_bytes(to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch().buffer)
    return _sidecar(path, "executorch")


@pytest.fixture(scope="session")
def tiny_tflite(artifacts_dir: Path) -> Path:
    pytest.importorskip("ai_edge_litert.interpreter")
    litert_torch = pytest.importorskip("litert_torch")
    path = artifacts_dir / "tiny-tflite-fp32.tflite"
    litert_torch.convert(Tiny().eval(), (torch.randn(1, 3, 16, 16),)).export(str(path))
    return _sidecar(path, "tflite")
