"""torch.export of a model that takes any input height and width (and optionally any batch): the
graph behind an ONNX model with symbolic height/width and a Core ML model with enumerated shapes."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mvedge import upstream

MAX_SIDE = 8192
"""The largest height or width the exported graph is declared for."""


def export_any_size(module: nn.Module, example: Tensor, min_side: int, dynamic_batch: bool = False,
                    decompose: bool = False) -> torch.export.ExportedProgram:
    """Export `module` with symbolic height and width from `min_side` (the network's total stride)
    to MAX_SIDE; the batch stays the example's unless `dynamic_batch`. Windowed levels pad and
    partition symbolically (mambavision's `_symbolic_pad_partition`), so no size is specialised.
    `decompose` also runs the core-ATen decompositions, in the same size-oblivious mode: outside
    it, the re-trace would silently add a runtime check that fixes the window counts."""
    shapes: dict[int, torch.export.Dim] = {
        2: torch.export.Dim("height", min=min_side, max=MAX_SIDE),
        3: torch.export.Dim("width", min=min_side, max=MAX_SIDE),
    }
    if dynamic_batch:
        shapes[0] = torch.export.Dim("batch", min=1, max=1024)
    with upstream.export_size_oblivious():
        program = torch.export.export(module, (example,), dynamic_shapes=(shapes,), strict=False)
        return program.run_decompositions({}) if decompose else program
