"""Both forms of the chunked selective scan against the float64 sequential reference, and their exported ops."""

from __future__ import annotations

import collections

import pytest
import torch

from mvedge import selective_scan, selective_scan_reference
from mvedge.errors import BadInput
from mvedge.model.scan import (
    DEFAULT_METHOD,
    LOGSTEP,
    MAX_CAT_INPUTS,
    MAX_UNROLLED_CHUNK,
    TWOPASS,
    SelectiveScan,
    cat_bounded,
    chunk_size_for,
    chunked_scan_bld,
    stable_softplus,
)

FORBIDDEN_SCAN_OPS = ("cumsum", "where", "masked_fill", "sum", "einsum", "softplus", "log1p", "tril", "triu", "scan", "while_loop")


def make_inputs(b: int, d: int, n: int, L: int, seed: int = 0, dtype=torch.float64):
    """mamba_ssm-shaped inputs with raw dt spanning [-20, 20] and MambaVision-like A."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(b, d, L, generator=g, dtype=dtype)
    delta = torch.rand(b, d, L, generator=g, dtype=dtype) * 40 - 20
    A = -torch.exp(torch.rand(d, n, generator=g, dtype=dtype) * 3)  # decay rates in [-20, -1]
    B = torch.randn(b, n, L, generator=g, dtype=dtype)
    C = torch.randn(b, n, L, generator=g, dtype=dtype)
    D = torch.randn(d, generator=g, dtype=dtype)
    bias = torch.randn(d, generator=g, dtype=dtype)
    return u, delta, A, B, C, D, bias


def rel_err(y: torch.Tensor, ref: torch.Tensor) -> float:
    """Max abs error relative to the largest reference output."""
    return float((y.double() - ref).abs().max() / ref.abs().max())


# every chunk size each form runs: "twopass" unrolls at most 16 positions, "logstep" takes any
METHOD_CHUNKS = [(TWOPASS, None), (TWOPASS, 1), (TWOPASS, 5), (TWOPASS, 7), (TWOPASS, 16), (LOGSTEP, 7), (LOGSTEP, 16), (LOGSTEP, 49), (LOGSTEP, 4096)]


def test_twopass_is_the_default() -> None:
    assert DEFAULT_METHOD == TWOPASS and SelectiveScan().method == TWOPASS


@pytest.mark.parametrize("L,chunk", [(196, 14), (49, 7), (392, 14), (64, 7), (5, 7)])
def test_without_a_chunk_size_the_chunks_follow_the_sequence_length(L: int, chunk: int) -> None:
    """14 tokens where 14 divides the length (the stage-3 windows, 196 tokens), else 7 (stage 4, 49)."""
    assert chunk_size_for(L) == chunk and SelectiveScan().chunk_size is None
    inputs = [t.float() for t in make_inputs(1, 4, 8, L, seed=L)]
    assert torch.equal(selective_scan(*inputs), selective_scan(*inputs, chunk_size=chunk))
    u, delta, A, B, C, D, bias = inputs
    u, delta, B, C = (x.transpose(1, 2) for x in (u, delta, B, C))
    y = SelectiveScan()(u, delta, A, B, C, D, bias)
    assert torch.equal(y, chunked_scan_bld(u, delta, A, B, C, D, bias, True, chunk))


@pytest.mark.parametrize("L", [1, 7, 49, 196, 197, 1024])
@pytest.mark.parametrize("method,chunk", METHOD_CHUNKS)
@pytest.mark.parametrize("n", [1, 8, 16])
def test_fp32_matches_float64_reference(L: int, method: str, chunk: int, n: int) -> None:
    inputs = make_inputs(2, 6, n, L, seed=L * 31 + n)
    ref = selective_scan_reference(*inputs)
    y = selective_scan(*(t.float() for t in inputs), chunk_size=chunk, method=method)
    assert y.shape == (2, 6, L) and y.dtype == torch.float32
    assert rel_err(y, ref) <= 1e-5


def test_dt_range_actually_spans_both_softplus_regimes() -> None:
    u, delta, *_ = make_inputs(2, 6, 8, 196)
    assert delta.min() < -19 and delta.max() > 19


@pytest.mark.parametrize("dtype,tol", [(torch.float16, 1e-2), (torch.bfloat16, 5e-2)])
@pytest.mark.parametrize(
    "method,L,chunk",
    [(LOGSTEP, 196, 49), (LOGSTEP, 197, 16), (LOGSTEP, 1024, 64), (LOGSTEP, 49, 7), (TWOPASS, 196, 14), (TWOPASS, 197, 16), (TWOPASS, 1024, 16), (TWOPASS, 49, 7)],
)
def test_half_precision_is_finite_and_close(dtype: torch.dtype, tol: float, method: str, L: int, chunk: int) -> None:
    inputs = make_inputs(2, 8, 8, L, seed=L)
    ref = selective_scan_reference(*inputs)
    y = selective_scan(*(t.to(dtype) for t in inputs), chunk_size=chunk, method=method)
    assert y.dtype == dtype
    assert torch.isfinite(y).all()
    assert rel_err(y, ref) <= tol


@pytest.mark.parametrize("method,chunk", [(LOGSTEP, 64), (TWOPASS, 16)])
def test_half_precision_extreme_steps_stay_finite(method: str, chunk: int) -> None:
    """Huge steps (dt = +20 everywhere) with strong decay: exps must never overflow in fp16."""
    u, delta, A, B, C, D, bias = make_inputs(1, 4, 8, 256)
    delta = torch.full_like(delta, 20.0)
    A = A * 10
    y = selective_scan(*(t.half() for t in (u, delta, A, B, C, D, bias)), chunk_size=chunk, method=method)
    assert torch.isfinite(y).all()


def test_chunk_size_and_method_do_not_change_result() -> None:
    inputs = [t.float() for t in make_inputs(1, 4, 8, 196, seed=3)]
    outs = [selective_scan(*inputs, chunk_size=c, method=LOGSTEP) for c in (1, 5, 14, 49, 196, 1000)]
    outs += [selective_scan(*inputs, chunk_size=c, method=TWOPASS) for c in (1, 2, 5, 14, 16)]
    for out in outs[1:]:
        torch.testing.assert_close(out, outs[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method,chunk", [(LOGSTEP, 49), (TWOPASS, 7)])
def test_chunk_carry_matters(method: str, chunk: int) -> None:
    """Guard against a scan that drops the state between chunks: the test inputs must expose it."""
    u, delta, A, B, C, D, bias = (t.float() for t in make_inputs(1, 4, 8, 98, seed=5))
    delta = torch.full_like(delta, -4.0)  # small steps: long memory across chunk borders
    ref = selective_scan_reference(u, delta, A, B, C, D, bias)
    one = selective_scan(u, delta, A, B, C, D, bias, chunk_size=chunk, method=method)
    torch.testing.assert_close(one, ref, rtol=1e-5, atol=1e-5)
    halves = torch.cat(
        [selective_scan(u[..., s], delta[..., s], A, B[..., s], C[..., s], D, bias, chunk_size=chunk, method=method) for s in (slice(0, 49), slice(49, 98))],
        dim=-1,
    )
    assert (halves - ref).abs().max() > 1e-2 * ref.abs().max()


def test_reference_without_optional_terms() -> None:
    u, delta, A, B, C, _, _ = make_inputs(1, 3, 4, 20)
    ref = selective_scan_reference(u, delta.abs() * 0.1, A, B, C, None, None, delta_softplus=False)
    y = selective_scan(*(t.float() for t in (u, delta.abs() * 0.1, A, B, C)), None, None, delta_softplus=False, chunk_size=8)
    assert rel_err(y, ref) <= 1e-5


def test_stable_softplus_matches_softplus() -> None:
    x = torch.linspace(-40, 40, 2001, dtype=torch.float64)
    exact = torch.relu(x) + torch.log1p(torch.exp(-x.abs()))
    torch.testing.assert_close(stable_softplus(x), exact, rtol=1e-14, atol=1e-15)
    # F.softplus returns x itself above its threshold of 20, an error of at most exp(-20) ~ 2e-9
    torch.testing.assert_close(stable_softplus(x), torch.nn.functional.softplus(x), rtol=0, atol=2.1e-9)
    assert torch.isfinite(stable_softplus(torch.tensor([-1e4, 1e4], dtype=torch.float16))).all()


def test_invalid_chunk_size_is_rejected() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        SelectiveScan(0)
    u, delta, A, B, C, D, bias = make_inputs(1, 2, 2, 4)
    with pytest.raises(ValueError, match="chunk_size"):
        selective_scan(u, delta, A, B, C, D, bias, chunk_size=0)


def test_a_chunk_too_long_to_unroll_or_an_unknown_method_is_refused_with_the_fix() -> None:
    u, delta, A, B, C, D, bias = (t.float() for t in make_inputs(1, 2, 2, 40))
    with pytest.raises(BadInput, match=f"chunk_size 17 is longer than the 'twopass' scan unrolls \\({MAX_UNROLLED_CHUNK} tokens\\); pass chunk_size <= 16 or method='logstep'"):
        selective_scan(u, delta, A, B, C, D, bias, chunk_size=17)
    with pytest.raises(BadInput, match="chunk_size 17"):
        SelectiveScan(17)
    with pytest.raises(BadInput, match="unknown scan method 'cumsum'; choose one of 'twopass', 'logstep'"):
        selective_scan(u, delta, A, B, C, D, bias, method="cumsum")
    assert SelectiveScan(17, LOGSTEP).method == LOGSTEP


@pytest.mark.parametrize("method,chunk", [(LOGSTEP, 49), (TWOPASS, 7), (TWOPASS, 16)])
def test_exported_scan_uses_only_delegable_ops(method: str, chunk: int) -> None:
    """The scan graph has no forbidden op, no loop over time steps (node count independent of L)."""

    class Wrapped(torch.nn.Module):
        def forward(self, u, delta, A, B, C, D, bias):
            return chunked_scan_bld(u, delta, A, B, C, D, bias, True, chunk, method)

    counts = {}
    for L in (196, 392):
        args = tuple(t.float() for t in make_inputs(1, 16, 8, L))
        args = (args[0].transpose(1, 2), args[1].transpose(1, 2), args[2], args[3].transpose(1, 2), args[4].transpose(1, 2), args[5], args[6])
        graph = torch.export.export(Wrapped(), args).run_decompositions().graph
        ops = collections.Counter(str(node.target) for node in graph.nodes if node.op == "call_function")
        bad = [op for op in ops if any(word in op.split(".")[1] if "." in op else False for word in FORBIDDEN_SCAN_OPS)]
        assert not bad, f"forbidden ops in the scan graph: {bad}"
        counts[L] = sum(ops.values())
    # twice the chunks: only the short inter-chunk recurrence or log-step grows, never per time step
    assert counts[392] - counts[196] < 30, counts


@pytest.mark.parametrize("method,chunk", [(TWOPASS, 14), (TWOPASS, 7), (TWOPASS, 16), (LOGSTEP, 14), (LOGSTEP, 7)])
def test_no_exported_cat_joins_more_tensors_than_the_delegates_take(method: str, chunk: int) -> None:
    """LiteRT's XNNPACK delegate runs a CONCATENATION of more than 5 inputs outside itself: every
    cat of the scan graph (chunks of 7/14/16 positions, 14/28 chunk carries) joins at most that many."""

    class Wrapped(torch.nn.Module):
        def forward(self, u, delta, A, B, C, D, bias):
            return chunked_scan_bld(u, delta, A, B, C, D, bias, True, chunk, method)

    args = tuple(t.float() for t in make_inputs(1, 16, 8, 196))
    args = (args[0].transpose(1, 2), args[1].transpose(1, 2), args[2], args[3].transpose(1, 2), args[4].transpose(1, 2), args[5], args[6])
    graph = torch.export.export(Wrapped(), args).run_decompositions().graph
    cats = [len(node.args[0]) for node in graph.nodes if node.op == "call_function" and "cat" in str(node.target)]
    assert cats and max(cats) <= MAX_CAT_INPUTS, cats


@pytest.mark.parametrize("count", range(1, 18))
def test_a_bounded_cat_equals_one_cat(count: int) -> None:
    parts = [torch.full((2, 1, 3), float(i)) + torch.randn(2, 1, 3) for i in range(count)]
    for limit in (2, 3, MAX_CAT_INPUTS):
        assert torch.equal(cat_bounded(parts, dim=1, max_inputs=limit), torch.cat(parts, dim=1))


@pytest.mark.parametrize(
    "index,name,bad,expected",
    [
        (0, "u", torch.zeros(2, 6), "(b, d, L)"),
        (1, "delta", torch.zeros(2, 6, 5), "(2, 6, 7)"),
        (2, "A", torch.zeros(5, 8), "(6, n)"),
        (3, "B", torch.zeros(2, 8, 5), "(2, 8, 7)"),
        (4, "C", torch.zeros(2, 4, 7), "(2, 8, 7)"),
        (5, "D", torch.zeros(5), "(6,)"),
        (6, "delta_bias", torch.zeros(6, 1), "(6,)"),
    ],
)
def test_a_misshaped_argument_is_named_with_its_shape_and_the_expected_one(index: int, name: str, bad: torch.Tensor, expected: str) -> None:
    from mvedge.errors import BadInput

    args = [t.float() for t in make_inputs(2, 6, 8, 7)]
    args[index] = bad
    with pytest.raises(BadInput) as caught:
        selective_scan(*args)
    message = str(caught.value)
    assert message.startswith(f"selective_scan: {name} ") and str(tuple(bad.shape)) in message and expected in message, message


def test_negative_steps_without_softplus_are_refused_and_non_negative_ones_match_the_reference() -> None:
    """The log-space form keeps every exponent delta * A <= 0; a negative delta makes the decay grow
    (the reference overflows or reaches 1e200), so it is refused instead of returning NaN."""
    from mvedge.errors import BadInput

    u, delta, A, B, C, D, bias = make_inputs(1, 4, 8, 49)
    negative = -torch.rand_like(delta)
    assert torch.isfinite(selective_scan_reference(u, negative, A, B, C, D, delta_softplus=False)).all()
    with pytest.raises(BadInput, match="delta must be >= 0 when delta_softplus=False"):
        selective_scan(*(t.float() for t in (u, negative, A, B, C, D)), delta_softplus=False)
    with pytest.raises(BadInput, match="delta \\+ delta_bias must be >= 0"):
        selective_scan(*(t.float() for t in (u, delta.abs(), A, B, C, D)), -delta.abs().max() - torch.ones(4), delta_softplus=False)
    steps = torch.rand_like(delta) * 2
    ref = selective_scan_reference(u, steps, A, B, C, D, delta_softplus=False)
    y = selective_scan(*(t.float() for t in (u, steps, A, B, C, D)), delta_softplus=False)
    assert rel_err(y, ref) <= 1e-5


def test_the_eager_checks_stay_out_of_an_exported_scan() -> None:
    class Wrapped(torch.nn.Module):
        def forward(self, u, delta, A, B, C):
            return selective_scan(u, delta, A, B, C, delta_softplus=False)

    u, delta, A, B, C, _, _ = (t.float() for t in make_inputs(1, 4, 8, 14))
    exported = torch.export.export(Wrapped(), (u, delta.abs(), A, B, C))
    ops = {str(node.target) for node in exported.graph.nodes if node.op == "call_function"}
    assert not [op for op in ops if "any" in op or ".lt" in op or ".ge" in op], ops
    torch.testing.assert_close(exported.module()(u, delta.abs(), A, B, C), Wrapped()(u, delta.abs(), A, B, C))
