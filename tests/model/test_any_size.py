"""export_any_size: one exported graph that takes any height and width (the ONNX and Core ML
multi-size artifacts), equal to eager at square, non-square, padded and one-window sizes."""

from __future__ import annotations

import pytest
import torch

import mvedge
from mvedge.model.any_size import export_any_size
from mvedge.model.configs import test_config

# (height, width): the example's, non-square, padded at every level, one window per level, wide
SIZES = [(64, 64), (96, 160), (70, 50), (32, 32), (40, 200)]


@pytest.fixture(scope="module")
def tiny() -> torch.nn.Module:
    torch.manual_seed(0)
    return mvedge.build(**test_config("tiny")).eval()


@pytest.mark.parametrize("dynamic_batch, decompose", [(False, False), (True, False), (False, True)])
def test_one_export_matches_eager_at_every_size(tiny, dynamic_batch, decompose) -> None:
    """Also after the core-ATen decompositions (Core ML's input), which re-trace the graph."""
    program = export_any_size(tiny, torch.randn(1, 3, 64, 64), min_side=32, dynamic_batch=dynamic_batch, decompose=decompose)
    batch = 2 if dynamic_batch else 1
    for size in SIZES:
        x = torch.randn(batch, 3, *size)
        with torch.no_grad():
            assert torch.allclose(program.module()(x), tiny(x), atol=1e-5), size


def test_a_batch_of_one_keeps_every_tensor_within_core_ml_rank_5(tiny) -> None:
    program = export_any_size(tiny, torch.randn(1, 3, 64, 64), min_side=32)
    ranks = [len(node.meta["val"].shape) for node in program.graph.nodes if isinstance(node.meta.get("val"), torch.Tensor)]
    assert max(ranks) <= 5


def test_a_side_below_the_declared_minimum_is_refused_by_the_program(tiny) -> None:
    program = export_any_size(tiny, torch.randn(1, 3, 64, 64), min_side=32)
    with pytest.raises(Exception, match="height|width|range|Guard"):
        program.module()(torch.randn(1, 3, 16, 64))
