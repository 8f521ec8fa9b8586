"""Selective scan (Mamba-1, mamba_ssm semantics): export-friendly chunked forms and a sequential reference.

The chunked scan is what the model runs and what every converter exports, in one of two forms:
"twopass" (the default: a static loop over the <= 16 positions of a chunk, run for all chunks at
once, and a log-step scan across chunks) and "logstep" (a log-step scan inside each chunk, a static
recurrence across chunks). Both use only ops that every mobile target delegates (mul, add, exp,
log, abs, relu, constant pad, slice, cat, view, permute, bmm): no cumsum, where, sum, einsum or bare
softplus, no loop over the sequence length, no data-dependent control flow, rank <= 4 with
equal-rank broadcasting, no cat of more than MAX_CAT_INPUTS tensors, and every exponent that is
evaluated is <= 0, so fp16 cannot overflow.
That last property needs every step delta * A <= 0: A < 0 (as in every Mamba model,
A = -exp(A_log)) and delta >= 0, which softplus guarantees; with `delta_softplus=False` the
caller's delta (plus delta_bias) must itself be >= 0 (a negative step makes the decay grow, which
overflows), and `selective_scan` refuses one that is not.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mvedge.errors import BadInput

TWOPASS = "twopass"
LOGSTEP = "logstep"
DEFAULT_METHOD = TWOPASS
"""The scan form the model and `selective_scan` use unless told otherwise (BENCHMARKS.md, section 1)."""

MAX_UNROLLED_CHUNK = 16
"""The longest chunk the "twopass" form unrolls (its node count grows with the chunk size)."""

DEFAULT_CHUNK_SIZE: int | None = None
"""Tokens per chunk; None picks them by sequence length (`chunk_size_for`)."""

MAX_CAT_INPUTS = 5
"""The most tensors one cat joins: LiteRT's XNNPACK delegate takes a CONCATENATION of 2 to 5
inputs and runs a longer one outside the delegate, on LiteRT's own kernel, in a partition break."""


def chunk_size_for(length: int) -> int:
    """The chunk size used when none is given, chosen by measurement (BENCHMARKS.md, section 1):
    14 when it divides the length (MambaVision's 14x14 windows, 196 tokens), else 7 (7x7 windows)."""
    return 14 if length % 14 == 0 else 7


def stable_softplus(x: Tensor) -> Tensor:
    """softplus written as relu(x) + log(1 + exp(-|x|)): cannot overflow in fp16 and needs no
    `where`/`log1p`, which the XNNPACK delegates lack (F.softplus decomposes into both)."""
    return torch.relu(x) + torch.log(torch.exp(-torch.abs(x)) + 1.0)


def _cast(x: Tensor, dtype: torch.dtype) -> Tensor:
    """x in dtype, without a cast node in exported graphs when it already is."""
    return x if x.dtype == dtype else x.to(dtype)


def _shift_right(x: Tensor, offset: int) -> Tensor:
    """x shifted by `offset` along dim 1 with zeros entering at the front (x[:, t-offset])."""
    return F.pad(x[:, : x.shape[1] - offset], (0, 0, 0, 0, offset, 0))


def cat_bounded(tensors: list[Tensor], dim: int, max_inputs: int = MAX_CAT_INPUTS) -> Tensor:
    """torch.cat of `tensors` along `dim` (the same values) with no cat of more than `max_inputs`
    tensors, so every concatenation stays inside the delegates: balanced groups are joined first,
    then the groups, each flattened from `dim` on. The flattening is a real reshape (a rank
    change), which keeps converters from merging the two levels back into one long concatenation
    (litert-torch merges a cat of cats)."""
    if max_inputs < 2:
        raise ValueError(f"max_inputs must be >= 2, got {max_inputs}")
    if len(tensors) == 1:
        return tensors[0]
    if len(tensors) <= max_inputs:
        return torch.cat(tensors, dim=dim)
    lead, tail = tuple(tensors[0].shape[:dim]), tuple(tensors[0].shape[dim + 1 :])
    size = math.ceil(len(tensors) / math.ceil(len(tensors) / max_inputs))  # balanced groups
    groups = [cat_bounded(tensors[i : i + size], dim, max_inputs) for i in range(0, len(tensors), size)]
    flat = [g.reshape(*lead, -1) if g.dim() != dim + 1 else g.reshape(*lead, -1, 1) for g in groups]
    return cat_bounded(flat, dim, max_inputs).reshape(*lead, -1, *tail)


def _prepare(
    u: Tensor, delta: Tensor, B: Tensor, C: Tensor, delta_bias: Tensor | None, delta_softplus: bool, chunk_size: int
) -> tuple[Tensor, Tensor, Tensor, Tensor, int, int]:
    """The step (bias, softplus) and the inputs padded to K chunks of T tokens: (delta, u, B, C, T, K).
    The padded tail has delta = 0, i.e. decay 1 and input 0: the state passes through unchanged."""
    b, L, d = u.shape
    if delta_bias is not None:
        delta = delta + _cast(delta_bias, u.dtype).reshape(1, 1, d)
    if delta_softplus:
        delta = stable_softplus(delta)
    T = min(chunk_size, L)
    K = math.ceil(L / T)
    if K * T != L:
        delta, u, B, C = (F.pad(t, (0, 0, 0, K * T - L)) for t in (delta, u, B, C))
    return delta, u, B, C, T, K


def _finish(state: Tensor, C: Tensor, u: Tensor, D: Tensor | None) -> Tensor:
    """y_t = sum_n C[t, n] * h[t, :, n] as one batched mat-vec (no sum reduction), cropped to u's
    length, plus the D * u skip. state: (b*K, T, d, n); C: (b, K*T, n); u: (b, L, d)."""
    b, L, d = u.shape
    n = C.shape[-1]
    Lp = C.shape[1]
    y = torch.bmm(state.reshape(b * Lp, d, n), C.reshape(b * Lp, n, 1)).reshape(b, Lp, d)
    if Lp != L:
        y = y[:, :L]
    if D is not None:
        y = y + u * _cast(D, u.dtype).reshape(1, 1, d)
    return y


def logstep_scan_bld(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Tensor:
    """The "logstep" form, token-major: u, delta (b, L, d); A (d, n); B, C (b, L, n) -> y (b, L, d).

    Inside a chunk of T tokens the states come from a log-step (Hillis-Steele) scan in log space
    (ceil(log2 T) full-size levels); between chunks from a static recurrence over the K = ceil(L / T)
    chunk-end states. Any chunk size; a sequence shorter than a chunk is one chunk.
    """
    _check_chunk_size(chunk_size, LOGSTEP)
    b, L, d = u.shape
    n = A.shape[-1]
    u_in = u
    delta, u, B, C, T, K = _prepare(u, delta, B, C, delta_bias, delta_softplus, chunk_size)
    Lp = K * T
    # log-decay (<= 0) and input of every (token, channel, state): (b*K, T, d, n)
    log_decay = delta.reshape(b, Lp, d, 1) * _cast(A, u.dtype).reshape(1, 1, d, n)
    state = (delta * u).reshape(b, Lp, d, 1) * B.reshape(b, Lp, 1, n)
    log_decay = log_decay.reshape(b * K, T, d, n)
    state = state.reshape(b * K, T, d, n)
    offset = 1
    while offset < T:  # static: ceil(log2 T) levels
        state = state + torch.exp(log_decay) * _shift_right(state, offset)
        log_decay = log_decay + _shift_right(log_decay, offset)
        offset *= 2
    decay = torch.exp(log_decay)  # inclusive decay from the chunk start, in (0, 1]
    if K > 1:
        end_state = state[:, T - 1 :].reshape(b, K, d, n)
        end_decay = decay[:, T - 1 :].reshape(b, K, d, n)
        carry = end_state[:, 0:1] * 0.0  # state entering chunk 0 (zeros, shape-agnostic)
        carries = [carry]
        for c in range(1, K):  # static recurrence over chunks
            carry = end_decay[:, c - 1 : c] * carry + end_state[:, c - 1 : c]
            carries.append(carry)
        carry_in = cat_bounded(carries, dim=1).reshape(b * K, 1, d, n)
        state = state + decay * carry_in
    return _finish(state, C, u_in, D)


def _chunk_entry_states(end_state: Tensor, end_log_decay: Tensor) -> Tensor:
    """State entering each of K chunks, (b, K, m): an exclusive log-step (Hillis-Steele) scan over the
    chunk-end states and their whole-chunk log-decays (<= 0), both padded with zeros at the front
    (zero pads only: a pad value of 1 is an op the LiteRT XNNPACK delegate leaves out)."""
    K = end_state.shape[1]
    h = F.pad(end_state[:, : K - 1], (0, 0, 1, 0))
    log_a = F.pad(end_log_decay[:, : K - 1], (0, 0, 1, 0))
    offset = 1
    while offset < K:  # static: ceil(log2 K) levels on small (b, K, d*n) tensors
        h = h + torch.exp(log_a) * F.pad(h[:, : K - offset], (0, 0, offset, 0))
        if 2 * offset < K:
            log_a = log_a + F.pad(log_a[:, : K - offset], (0, 0, offset, 0))
        offset *= 2
    return h


def twopass_scan_bld(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Tensor:
    """The "twopass" form (the default), token-major: u, delta (b, L, d); A (d, n); B, C (b, L, n) -> y (b, L, d).

    The sequence is cut into K chunks of T <= 16 tokens and the recurrence runs step by step over
    the T positions of a chunk, for all K chunks at once (T small ops on (b*K, 1, d, n) instead of
    ceil(log2 T) full-size log-step levels):
      pass 1: each chunk's end state from a zero state;
      carry:  each chunk's decay exp(A * sum of its steps) (the sum is a bmm with a row of ones),
              then an exclusive log-step scan over the K chunk ends gives each chunk's entry state;
      pass 2: the recurrence again from the entry states (reusing pass 1's decays and inputs).
    O(L) work, every exponent <= 0.
    """
    _check_chunk_size(chunk_size, TWOPASS)
    b, L, d = u.shape
    n = A.shape[-1]
    u_in = u
    delta, u, B, C, T, K = _prepare(u, delta, B, C, delta_bias, delta_softplus, chunk_size)
    bk = b * K
    A4 = _cast(A, u.dtype).reshape(1, 1, d, n)
    # decay (in (0, 1]) and input of every (token, channel, state), then one (bk, 1, d, n) slice per position
    decay = torch.exp(delta.reshape(bk, T, d, 1) * A4)
    drive = (delta * u).reshape(bk, T, d, 1) * B.reshape(bk, T, 1, n)
    decays = [decay[:, t : t + 1] for t in range(T)]
    inputs = [drive[:, t : t + 1] for t in range(T)]
    h = inputs[0]
    if K > 1:
        for t in range(1, T):  # pass 1: chunk-end states from zero
            h = decays[t] * h + inputs[t]
        per_chunk = delta.reshape(bk, T, d)
        ones = per_chunk[:, :, :1].transpose(1, 2) * 0.0 + 1.0  # (bk, 1, T), without a constant-creating op
        end_log_decay = torch.bmm(ones, per_chunk).reshape(bk, 1, d, 1) * A4
        entry = _chunk_entry_states(h.reshape(b, K, d * n), end_log_decay.reshape(b, K, d * n))
        h = decays[0] * entry.reshape(bk, 1, d, n) + inputs[0]
    states = [h]
    for t in range(1, T):  # pass 2: every state
        h = decays[t] * h + inputs[t]
        states.append(h)
    state = cat_bounded(states, dim=1)  # (bk, T, d, n)
    return _finish(state, C, u_in, D)


SCAN_FORMS = {TWOPASS: twopass_scan_bld, LOGSTEP: logstep_scan_bld}


def _check_chunk_size(chunk_size: int | None, method: str) -> None:
    """BadInput for a chunk size the form cannot run (< 1; > MAX_UNROLLED_CHUNK for "twopass");
    None (by sequence length) is always fine."""
    if chunk_size is None:
        return
    if chunk_size < 1:
        raise BadInput(f"chunk_size must be >= 1, got {chunk_size}")
    if method == TWOPASS and chunk_size > MAX_UNROLLED_CHUNK:
        raise BadInput(
            f"chunk_size {chunk_size} is longer than the {TWOPASS!r} scan unrolls ({MAX_UNROLLED_CHUNK} tokens); "
            f"pass chunk_size <= {MAX_UNROLLED_CHUNK} or method={LOGSTEP!r}"
        )


def check_method(method: str, chunk_size: int | None) -> None:
    """BadInput for an unknown scan form or a chunk size it cannot run."""
    if method not in SCAN_FORMS:
        raise BadInput(f"unknown scan method {method!r}; choose one of {', '.join(map(repr, SCAN_FORMS))}")
    _check_chunk_size(chunk_size, method)


def chunked_scan_bld(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = True,
    chunk_size: int | None = DEFAULT_CHUNK_SIZE,
    method: str = DEFAULT_METHOD,
) -> Tensor:
    """Chunked selective scan in token-major layout (what the model runs and exports): u, delta
    (b, L, d); A (d, n); B, C (b, L, n) -> y (b, L, d), in the form `method` names, with chunks
    of `chunk_size` tokens (None: `chunk_size_for(L)`)."""
    check_method(method, chunk_size)
    if chunk_size is None:
        chunk_size = chunk_size_for(u.shape[1])
    return SCAN_FORMS[method](u, delta, A, B, C, D, delta_bias, delta_softplus, chunk_size)


def is_eager() -> bool:
    """True outside export, compile, TorchScript and fx tracing: value checks and eager-only memory
    layouts run only then (never in exported graphs)."""
    return not (
        torch.compiler.is_compiling() or torch.compiler.is_exporting() or torch.jit.is_tracing() or torch.jit.is_scripting()
        or torch.fx._symbolic_trace.is_fx_symbolic_tracing()
    )


def _shape(x: Tensor) -> tuple[int, ...]:
    return tuple(x.shape)


def check_scan_arguments(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None, delta_bias: Tensor | None, delta_softplus: bool
) -> None:
    """BadInput naming the first argument whose shape does not fit the mamba_ssm layout (with its
    shape and the expected one), or a negative step without softplus (eager mode only)."""

    def refuse(name: str, x: Tensor, expected: str) -> BadInput:
        return BadInput(f"selective_scan: {name} has shape {_shape(x)}, expected {expected}")

    if u.dim() != 3:
        raise refuse("u", u, "(b, d, L)")
    b, d, L = u.shape
    if _shape(delta) != (b, d, L):
        raise refuse("delta", delta, f"{(b, d, L)} like u")
    if A.dim() != 2 or A.shape[0] != d:
        raise refuse("A", A, f"({d}, n)")
    n = A.shape[1]
    for name, x in (("B", B), ("C", C)):
        if _shape(x) != (b, n, L):
            raise refuse(name, x, f"{(b, n, L)} (b, n, L)")
    for name, x in (("D", D), ("delta_bias", delta_bias)):
        if x is not None and _shape(x) != (d,):
            raise refuse(name, x, f"({d},)")
    if not delta_softplus and is_eager():
        steps = delta if delta_bias is None else delta + delta_bias.reshape(1, d, 1)
        if bool((steps < 0).any()):
            what = "delta" if delta_bias is None else "delta + delta_bias"
            raise BadInput(
                f"selective_scan: {what} must be >= 0 when delta_softplus=False (min {float(steps.min()):.3g}); "
                "pass delta_softplus=True or non-negative steps"
            )


def selective_scan(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = True,
    chunk_size: int | None = DEFAULT_CHUNK_SIZE,
    method: str = DEFAULT_METHOD,
) -> Tensor:
    """Chunked selective scan with the mamba_ssm argument shapes.

    u, delta: (b, d, L); A: (d, n); B, C: (b, n, L); D: (d,); delta_bias: (d,). Returns (b, d, L).
    The step is softplus(delta + delta_bias), or delta + delta_bias itself with
    `delta_softplus=False`, which must then be >= 0. `method` is "twopass" (chunk_size <= 16) or
    "logstep" (any chunk size); chunk_size None picks it by length (`chunk_size_for`). A misshaped argument, a negative step, an unknown method or a chunk
    size the method cannot run raises mvedge.errors.BadInput (a ValueError) naming it.
    """
    check_scan_arguments(u, delta, A, B, C, D, delta_bias, delta_softplus)
    check_method(method, chunk_size)
    y = chunked_scan_bld(
        u.transpose(1, 2),
        delta.transpose(1, 2),
        A,
        B.transpose(1, 2),
        C.transpose(1, 2),
        D,
        delta_bias,
        delta_softplus,
        chunk_size,
        method,
    )
    return y.transpose(1, 2)


def selective_scan_reference(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = True,
    chunk_size: int | None = None,
) -> Tensor:
    """Sequential reference with mamba_ssm `selective_scan_ref` semantics (tests, benchmarks only).

    Computes in float32 (float64 if the input is float64) and returns u's dtype. `chunk_size` is
    accepted for signature parity and ignored.
    """
    del chunk_size
    out_dtype = u.dtype
    work = torch.float64 if u.dtype == torch.float64 else torch.float32
    u, delta, A, B, C = (t.to(work) for t in (u, delta, A, B, C))
    if delta_bias is not None:
        delta = delta + delta_bias.to(work)[None, :, None]
    if delta_softplus:
        delta = F.softplus(delta)
    b, d, L = u.shape
    decay = torch.exp(delta[:, :, :, None] * A[None, :, None, :])  # (b, d, L, n)
    drive = (delta * u)[:, :, :, None] * B.transpose(1, 2)[:, None, :, :]  # (b, d, L, n)
    h = torch.zeros(b, d, A.shape[1], dtype=work, device=u.device)
    ys = []
    for t in range(L):
        h = decay[:, :, t] * h + drive[:, :, t]
        ys.append((h * C[:, None, :, t]).sum(-1))
    y = torch.stack(ys, dim=-1)
    if D is not None:
        y = y + u * D.to(work)[None, :, None]
    return y.to(out_dtype)


class SelectiveScan(nn.Module):
    """The chunked scan as a module, so quantizers can keep it in float by module type."""

    def __init__(self, chunk_size: int | None = DEFAULT_CHUNK_SIZE, method: str = DEFAULT_METHOD) -> None:
        super().__init__()
        check_method(method, chunk_size)
        self.chunk_size = chunk_size
        self.method = method

    def forward(
        self, u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor, delta_bias: Tensor
    ) -> Tensor:
        """Token-major scan (b, L, d) with softplus(delta + delta_bias) as the step size."""
        if self.method == DEFAULT_METHOD:
            return chunked_scan_bld(u, delta, A, B, C, D, delta_bias, True, self.chunk_size)
        return chunked_scan_bld(u, delta, A, B, C, D, delta_bias, True, self.chunk_size, self.method)

    def extra_repr(self) -> str:
        return f"chunk_size={'by length' if self.chunk_size is None else self.chunk_size}, method={self.method}"
