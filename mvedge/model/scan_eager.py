"""The selective scan as eager PyTorch runs it fastest: one in-place step per token.

Exported graphs need the chunked forms of `mvedge.model.scan` (no loop over the sequence length);
eager inference does not. At MambaVision's sizes a step works on a (b, d, n) slice too small for
torch to split over threads, so the chunked forms' extra arithmetic costs more than the ~L small
in-place ops of the plain recurrence (BENCHMARKS.md, "Eager PyTorch"). Same function and dtype
behaviour as the chunked forms; used only outside export, tracing, compilation and autograd.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

MAX_STEP_ELEMENTS = 32768
"""Largest (b, d, n) slice a step may have (torch's grain size for parallel element-wise ops): past
it, the chunked forms' bigger ops run on several threads and win."""


def tracing() -> bool:
    """True while torch.export, torch.compile, TorchScript or torch.fx records the model."""
    return (
        torch.compiler.is_compiling()
        or torch.compiler.is_exporting()
        or torch.jit.is_tracing()
        or torch.jit.is_scripting()
        or torch.fx._symbolic_trace.is_fx_symbolic_tracing()
    )


def runs_sequentially(u: Tensor, A: Tensor) -> bool:
    """Whether a scan of token-major u (b, L, d) with A (d, n) takes the sequential eager path:
    eager, no autograd (inference_mode or no_grad), and a step slice of at most MAX_STEP_ELEMENTS."""
    if torch.is_grad_enabled() or tracing():
        return False
    return u.shape[0] * u.shape[2] * A.shape[1] <= MAX_STEP_ELEMENTS


def sequential_scan_bld(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None, delta_bias: Tensor | None
) -> Tensor:
    """Token-major scan with softplus(delta + delta_bias) steps: u, delta (b, L, d); A (d, n); B, C
    (b, L, n) -> y (b, L, d), in u's dtype. h_t = exp(step_t * A) * h_(t-1) + step_t * u_t * B_t,
    y_t = h_t . C_t + D * u_t, computed in place on the (b, L, d, n) input tensor."""
    b, L, d = u.shape
    n = A.shape[-1]
    if delta_bias is not None:
        delta = delta + delta_bias.to(u.dtype).reshape(1, 1, d)
    step = F.softplus(delta)
    decay = torch.exp(step.unsqueeze(-1) * A.to(u.dtype).reshape(1, 1, d, n))
    state = (step * u).unsqueeze(-1) * B.unsqueeze(2)  # (b, L, d, n): the inputs, then the states
    for t in range(1, L):
        state[:, t].addcmul_(decay[:, t], state[:, t - 1])
    y = torch.matmul(state, C.unsqueeze(-1)).squeeze(-1)
    if D is not None:
        y = y.addcmul_(u, D.to(u.dtype).reshape(1, 1, d))
    return y
