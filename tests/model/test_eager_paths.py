"""The eager-inference scan: the same function as what export traces, and only where eager inference runs."""

from __future__ import annotations

import pytest
import torch

from mvedge import build, selective_scan_reference
from mvedge.model.scan import SelectiveScan, chunked_scan_bld
from mvedge.model.scan_eager import MAX_STEP_ELEMENTS, runs_sequentially
from tests.model.test_scan import make_inputs, rel_err


def token_major(b: int, d: int, n: int, L: int, seed: int, dtype=torch.float64):
    u, delta, A, B, C, D, bias = make_inputs(b, d, n, L, seed=seed, dtype=dtype)
    return u.transpose(1, 2), delta.transpose(1, 2), A, B.transpose(1, 2), C.transpose(1, 2), D, bias


@pytest.mark.parametrize("L", [1, 7, 49, 196, 197])
@pytest.mark.parametrize("n", [1, 8])
def test_eager_inference_matches_the_float64_reference_and_the_exported_form(L: int, n: int) -> None:
    inputs = token_major(2, 6, n, L, seed=L + n)
    u, delta, A, B, C, D, bias = inputs
    ref = selective_scan_reference(u.transpose(1, 2), delta.transpose(1, 2), A, B.transpose(1, 2), C.transpose(1, 2), D, bias).transpose(1, 2)
    f32 = [t.float() for t in inputs]
    scan = SelectiveScan()
    with torch.inference_mode():
        y = scan(*f32)
    exported_form = chunked_scan_bld(*f32)
    assert y.dtype == torch.float32 and rel_err(y, ref) <= 1e-5
    assert rel_err(y, exported_form.double()) <= 1e-5  # as the scan grid measures: relative to the largest output


@pytest.mark.parametrize("dtype,tol", [(torch.float16, 1e-2), (torch.bfloat16, 5e-2)])
def test_eager_inference_in_half_precision_is_finite_and_close(dtype: torch.dtype, tol: float) -> None:
    inputs = token_major(2, 8, 8, 196, seed=4)
    u, delta, A, B, C, D, bias = inputs
    ref = selective_scan_reference(u.transpose(1, 2), delta.transpose(1, 2), A, B.transpose(1, 2), C.transpose(1, 2), D, bias).transpose(1, 2)
    with torch.no_grad():
        y = SelectiveScan()(*(t.to(dtype) for t in inputs))
    assert y.dtype == dtype and torch.isfinite(y).all() and rel_err(y, ref) <= tol


def test_the_sequential_path_runs_only_in_eager_inference_with_small_steps() -> None:
    u, _, A, *_ = token_major(1, 160, 8, 196, seed=0, dtype=torch.float32)
    assert not runs_sequentially(u, A)  # autograd on
    with torch.no_grad():
        assert runs_sequentially(u, A)
        big = torch.zeros(MAX_STEP_ELEMENTS // (160 * 8) + 1, 196, 160)
        assert not runs_sequentially(big, A)
    with torch.inference_mode():
        assert runs_sequentially(u, A)


def test_export_traces_the_chunked_form_and_eager_inference_does_not() -> None:
    """The exported graph has no per-token loop (a few dozen nodes, no in-place addcmul); eager
    inference of the same module gives the same outputs."""
    model = build("T", dim=8, depths=[1, 1, 2, 1], num_heads=[1, 1, 1, 1], image_size=56).eval()
    x = torch.randn(1, 3, 56, 56)
    exported = torch.export.export(model, (x,))
    targets = [str(node.target) for node in exported.graph.nodes if node.op == "call_function"]
    assert not any("addcmul" in t for t in targets)
    with torch.no_grad():
        eager = model(x)
    torch.testing.assert_close(exported.module()(x), eager, rtol=1e-5, atol=1e-5)


def test_turning_the_eager_path_off_runs_the_configured_form() -> None:
    inputs = [t.float() for t in token_major(1, 4, 8, 98, seed=2)]
    scan = SelectiveScan(7)
    scan.eager_sequential = False
    with torch.inference_mode():
        y = scan(*inputs)
    assert torch.equal(y, chunked_scan_bld(*inputs, True, 7))

