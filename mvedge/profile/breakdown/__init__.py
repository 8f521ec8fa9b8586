"""Per-operator time breakdowns from each runtime's own profiler, where its Python runtime has one.

- onnxruntime: its profiler (SessionOptions.enable_profiling), a JSON trace of every node run;
- ExecuTorch: ETDump (the pip wheel's runtime records it, XNNPACK delegate ops included), read
  with executorch.devtools.Inspector;
- LiteRT: not available from Python (see litert.UNAVAILABLE);
- Core ML: not available on Linux (no Core ML at all; see the host profiler).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mvedge.artifact import target_of

Breakdown = tuple[list[dict[str, Any]] | None, list[str]]


def operator_breakdown(path: str | Path, batch: np.ndarray, threads: int, runs: int) -> Breakdown:
    """(operators sorted by mean time per run, notes) for the artifact at `path`; operators is
    None where the runtime cannot time operators, and the notes say why."""
    target = target_of(path)
    if target == "onnx":
        from mvedge.profile.breakdown.onnxruntime import breakdown
    elif target == "executorch":
        from mvedge.profile.breakdown.executorch import breakdown
    elif target == "tflite":
        from mvedge.profile.breakdown.litert import breakdown
    else:
        return None, ["per-operator timing of Core ML needs Xcode's Core ML performance report or Instruments on a Mac"]
    return breakdown(Path(path), batch, threads, runs)
