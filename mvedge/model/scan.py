"""Selective scan (Mamba-1, mamba_ssm semantics): an export-friendly chunked form and a sequential reference.

The chunked form is what the model runs and what every converter exports. It uses only ops that
every mobile target delegates (mul, add, exp, log, abs, relu, constant pad, slice, cat, view,
permute, bmm): no cumsum, where, sum, einsum or bare softplus, no loop over time steps, no
data-dependent control flow, rank <= 4 with equal-rank broadcasting, and every exponent that is
evaluated is <= 0, so fp16 cannot overflow. That last property needs every step delta * A <= 0:
A < 0 (as in every Mamba model, A = -exp(A_log)) and delta >= 0, which softplus guarantees; with
`delta_softplus=False` the caller's delta (plus delta_bias) must itself be >= 0 (a negative step
makes the decay grow, where the log-space form overflows to NaN), and `selective_scan` refuses one
that is not.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mvedge.errors import BadInput

DEFAULT_CHUNK_SIZE = 7
"""Tokens per chunk, chosen by measurement (BENCHMARKS.md sections 1 and 2): of 7/14/28/49/98/196,
7 was fastest exported to ExecuTorch-XNNPACK at both MambaVision-T stage shapes and in the eager
whole-model forward; it divides both stage lengths at the native resolution (196 = 28 x 7, 49 = 7 x 7). Each
log-step level costs a few full passes over the (L, d, n) state, so short chunks (3 levels) win."""


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


def chunked_scan_bld(
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
    """Chunked selective scan in token-major layout: u, delta (b, L, d); A (d, n); B, C (b, L, n).

    Returns y (b, L, d). Inside a chunk of T tokens the states come from a log-step
    (Hillis-Steele) scan in log space (ceil(log2 T) levels); between chunks from a static
    recurrence over the K = ceil(L / T) chunk-end states. A sequence shorter than a chunk is one
    chunk. The padded tail (to K*T tokens) has delta = 0, i.e. decay 1 and input 0.
    """
    if chunk_size < 1:
        raise BadInput(f"chunk_size must be >= 1, got {chunk_size}")
    b, L, d = u.shape
    n = A.shape[-1]
    dtype = u.dtype
    if delta_bias is not None:
        delta = delta + _cast(delta_bias, dtype).reshape(1, 1, d)
    if delta_softplus:
        delta = stable_softplus(delta)
    T = min(chunk_size, L)
    K = math.ceil(L / T)
    Lp = K * T
    if Lp != L:  # zero delta and input on the padding: the state passes through unchanged
        delta = F.pad(delta, (0, 0, 0, Lp - L))
        u_p = F.pad(u, (0, 0, 0, Lp - L))
        B = F.pad(B, (0, 0, 0, Lp - L))
        C = F.pad(C, (0, 0, 0, Lp - L))
    else:
        u_p = u
    # log-decay (<= 0) and input of every (token, channel, state): (b*K, T, d, n)
    log_decay = delta.reshape(b, Lp, d, 1) * _cast(A, dtype).reshape(1, 1, d, n)
    state = (delta * u_p).reshape(b, Lp, d, 1) * B.reshape(b, Lp, 1, n)
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
        carry_in = torch.cat(carries, dim=1).reshape(b * K, 1, d, n)
        state = state + decay * carry_in
    # y_t = sum_n C[t, n] * h[t, :, n] as one batched mat-vec (no sum reduction)
    y = torch.bmm(state.reshape(b * Lp, d, n), C.reshape(b * Lp, n, 1)).reshape(b, Lp, d)
    if Lp != L:
        y = y[:, :L]
    if D is not None:
        y = y + u * _cast(D, dtype).reshape(1, 1, d)
    return y


def _eager() -> bool:
    """True outside export, compile and tracing: value checks run only then (not in exported graphs)."""
    return not (torch.compiler.is_compiling() or torch.compiler.is_exporting() or torch.jit.is_tracing() or torch.jit.is_scripting())


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
    if not delta_softplus and _eager():
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
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Tensor:
    """Chunked selective scan with the mamba_ssm argument shapes.

    u, delta: (b, d, L); A: (d, n); B, C: (b, n, L); D: (d,); delta_bias: (d,). Returns (b, d, L).
    The step is softplus(delta + delta_bias), or delta + delta_bias itself with
    `delta_softplus=False`, which must then be >= 0. A misshaped argument or a negative step
    raises mvedge.errors.BadInput (a ValueError) naming it.
    """
    check_scan_arguments(u, delta, A, B, C, D, delta_bias, delta_softplus)
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

    def __init__(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        super().__init__()
        if chunk_size < 1:
            raise ValueError(f"scan_chunk_size must be >= 1, got {chunk_size}")
        self.chunk_size = chunk_size

    def forward(
        self, u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor, delta_bias: Tensor
    ) -> Tensor:
        """Token-major scan (b, L, d) with softplus(delta + delta_bias) as the step size."""
        return chunked_scan_bld(u, delta, A, B, C, D, delta_bias, True, self.chunk_size)

    def extra_repr(self) -> str:
        return f"chunk_size={self.chunk_size}"
