"""torch.export of the whole MambaVision-T at 224: it succeeds, and every op is in an allowed set."""

from __future__ import annotations

import collections

import pytest
import torch

import mvedge

# Core ATen ops (after run_decompositions) that every target converts and delegates.
ALLOWED_OPS = {
    "aten.convolution.default",
    "aten._native_batch_norm_legit_no_training.default",
    "aten.native_layer_norm.default",
    "aten.relu.default",
    "aten.gelu.default",
    "aten.sigmoid.default",
    "aten.add.Tensor",
    "aten.mul.Tensor",
    "aten.neg.default",
    "aten.abs.default",
    "aten.exp.default",
    "aten.log.default",
    "aten._softmax.default",
    "aten.mm.default",
    "aten.addmm.default",
    "aten.bmm.default",
    "aten.view.default",
    "aten.permute.default",
    "aten.expand.default",
    "aten.clone.default",
    "aten.slice.Tensor",
    "aten.cat.default",
    "aten.constant_pad_nd.default",
    "aten.mean.dim",
    "<built-in function getitem>",
}


@pytest.fixture(scope="module")
def t_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return mvedge.build(**mvedge.config("T")).eval()


@pytest.fixture(scope="module")
def exported_t(t_model) -> torch.export.ExportedProgram:
    """MambaVision-T at 224, exported once for every test here (an export takes seconds)."""
    return torch.export.export(t_model, (torch.randn(1, 3, 224, 224),))


def op_counts(program: torch.export.ExportedProgram) -> collections.Counter:
    return collections.Counter(str(n.target) for n in program.graph.nodes if n.op == "call_function")


def test_export_whole_t_at_224_uses_only_allowed_ops(exported_t) -> None:
    ops = op_counts(exported_t.run_decompositions())  # a new program: the fixture's stays as exported
    outside = {op: n for op, n in ops.items() if op not in ALLOWED_OPS}
    assert not outside, f"ops outside the allowed set: {outside}"
    assert ops["aten.bmm.default"] >= 6  # the scan's n-contraction is a bmm in each of the 6 Mamba blocks


def test_exported_t_matches_eager(t_model, exported_t) -> None:
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(exported_t.module()(x), t_model(x), rtol=1e-5, atol=1e-5)
