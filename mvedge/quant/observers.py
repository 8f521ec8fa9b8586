"""How calibration turns observed activations into int8 ranges: min/max, histogram or percentile.

The same three observers serve every target, so `--observer` means one thing everywhere:
- `minmax`: the smallest and largest value seen over all calibration images (torchao MinMaxObserver);
- `histogram`: torchao's HistogramObserver, which picks the range that minimises the L2
  quantization error of the running histogram (it clips rare outliers when that pays);
- `percentile`: the range between the 0.01th and 99.99th percentiles of the running histogram
  (`PercentileObserver`), a fixed clipping rule that ignores the rarest values.
PT2E targets (ExecuTorch, Core ML) put them in place of the quantizer's activation observers;
for LiteRT the converter feeds the float model's tensors to them (`observed_range`).
"""

from __future__ import annotations

from typing import Any

import torch
from torchao.quantization.pt2e.observer import HistogramObserver, MinMaxObserver

from mvedge.quant.recipes import PERCENTILE, check_observer


class PercentileObserver(HistogramObserver):
    """A HistogramObserver whose range is the [100 - p, p] percentile interval of its histogram."""

    def __init__(self, *args: Any, percentile: float = PERCENTILE, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not 50.0 < percentile <= 100.0:
            raise ValueError(f"percentile must be in (50, 100], got {percentile}")
        self.percentile = percentile

    def _non_linear_param_search(self) -> tuple[torch.Tensor, torch.Tensor]:
        counts = torch.cumsum(self.histogram.double(), dim=0)
        total = float(counts[-1])
        if total <= 0:
            return self.min_val, self.max_val
        width = (self.max_val - self.min_val) / self.bins
        tail = (100.0 - self.percentile) / 100.0
        low_bin = int(torch.searchsorted(counts, torch.tensor(tail * total, dtype=counts.dtype)))
        high_bin = int(torch.searchsorted(counts, torch.tensor((1.0 - tail) * total, dtype=counts.dtype)))
        low = self.min_val + width * low_bin
        high = self.min_val + width * min(high_bin + 1, self.bins)
        return low, torch.maximum(high, low)


def observer_class(name: str) -> type:
    """The torchao observer class behind an observer name."""
    check_observer(name)
    return {"minmax": MinMaxObserver, "histogram": HistogramObserver, "percentile": PercentileObserver}[name]


def make_observer(name: str, dtype: torch.dtype = torch.int8, quant_min: int = -128, quant_max: int = 127,
                  qscheme: torch.qscheme = torch.per_tensor_affine, eps: float = 2**-12) -> torch.nn.Module:
    """A fresh per-tensor activation observer (used directly for LiteRT, via specs for PT2E)."""
    return observer_class(name)(dtype=dtype, quant_min=quant_min, quant_max=quant_max, qscheme=qscheme, eps=eps)


def observed_range(observer: torch.nn.Module) -> tuple[float, float]:
    """The (low, high) float range an observer settled on (the interval its int8 grid covers)."""
    if isinstance(observer, HistogramObserver):
        low, high = observer._non_linear_param_search()
    else:
        low, high = observer.min_val, observer.max_val
    return float(low), float(high)
