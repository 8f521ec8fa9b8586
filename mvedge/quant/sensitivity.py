"""Which blocks int8 hurts: quantize one block at a time and rank blocks by the drift each causes.

For the PT2E targets (ExecuTorch, Core ML) the whole model is prepared, calibrated and
converted once with the target's recipe (weights left as float -> quantize -> dequantize
chains), and each block's result comes from a copy of that graph in which every
quantize/dequantize pair that does not feed an op of the block is bypassed: the block computes
exactly what it computes in the fully quantized model, the rest stays float. The outputs are
compared with the float model (mvedge.verify.metrics) on the given images. LiteRT has its own
implementation on the .tflite (mvedge/quant/litert.py, `scope_sensitivity`), with the
same result type.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from mvedge.progress import Progress
from mvedge.quant.regions import is_dequantize, is_quantize, inside, module_paths
from mvedge.quant.units import Unit, quant_units
from mvedge.verify.metrics import Drift, compare


@dataclass
class UnitDrift:
    """The drift of the model with only `unit` quantized (or, for unit "all", everything)."""

    unit: str
    kind: str
    drift: Drift
    quantized_tensors: int = 0  # PT2E: quantize/dequantize pairs feeding the unit; LiteRT: tensors in its scope

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"unit": self.unit, "kind": self.kind, "quantized_tensors": self.quantized_tensors, **self.drift.to_dict()}


@dataclass
class SensitivityReport:
    """Every unit's drift, worst first, plus the fully quantized model's."""

    target: str
    method: str
    observer: str
    images: int
    calibration_images: int
    full: UnitDrift
    units: list[UnitDrift] = field(default_factory=list)

    def ranked(self) -> list[UnitDrift]:
        """Units from the most harmful (lowest PSNR) to the least."""
        return sorted(self.units, key=lambda u: (u.drift.psnr_db, u.drift.cosine))

    def suggestion(self, count: int = 2) -> list[str]:
        """The `count` units whose quantization costs the most: candidates for --exclude."""
        return [u.unit for u in self.ranked()[:count]]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (--json)."""
        return {
            "target": self.target,
            "method": self.method,
            "observer": self.observer,
            "images": self.images,
            "calibration_images": self.calibration_images,
            "all_quantized": self.full.to_dict(),
            "ranked": [u.to_dict() for u in self.ranked()],
            "suggested_exclusions": self.suggestion(),
        }


def _run(module: nn.Module, images: Tensor, batch: int = 16) -> np.ndarray:
    with torch.no_grad():
        return np.concatenate([module(images[i : i + batch]).numpy() for i in range(0, len(images), batch)])


def only_unit(converted: torch.fx.GraphModule, paths: tuple[str, ...] | None) -> tuple[torch.fx.GraphModule, int]:
    """A copy of a converted (fold_quantize=False) graph where every quantize -> dequantize pair
    whose dequantized value feeds no op inside `paths` is bypassed (None: keep all); returns the
    copy and how many pairs were kept."""
    graph_module = copy.deepcopy(converted)
    kept = 0
    for node in list(graph_module.graph.nodes):
        if not is_dequantize(node):
            continue
        source = node.args[0]
        if not (isinstance(source, torch.fx.Node) and is_quantize(source)):
            continue
        consumers = [user for user in node.users if user.op == "call_function"]
        if paths is None or any(inside(path, paths) for user in consumers for path in module_paths(user)):
            kept += 1
            continue
        node.replace_all_uses_with(source.args[0])
    graph_module.graph.eliminate_dead_code()
    graph_module.recompile()
    return graph_module, kept


def pt2e_sensitivity(
    model: nn.Module,
    target: str,
    calibration: Tensor,
    images: Tensor,
    labels: np.ndarray | None = None,
    observer: str | None = None,
    units: list[Unit] | None = None,
    progress: Progress | None = None,
) -> SensitivityReport:
    """Rank the model's units by the drift int8 causes in each, with the target's PT2E recipe."""
    from mvedge.quant import pt2e
    from mvedge.quant.recipes import recipe_for

    progress = progress or Progress(quiet=True)
    model = model.eval()
    units = units if units is not None else quant_units(model)
    chosen = recipe_for(target).observer(observer)
    reference = _run(model, images)
    with progress.stage(f"quantizing once ({target} recipe, {chosen} observer, {len(calibration)} calibration images)"):
        converted = pt2e.quantize_ptq(model, target, calibration, calibration[:1], chosen, fold_quantize=False, progress=progress)
    full_graph, full_pairs = only_unit(converted, None)
    full = UnitDrift("all", "every unit quantized", compare(reference, _run(full_graph, images), labels), full_pairs)
    report = SensitivityReport(target, "PT2E q/dq simulation in PyTorch (the target's quantizer)", chosen, len(images), len(calibration), full)
    for index, unit in enumerate(units):
        graph, pairs = only_unit(converted, unit.paths)
        drift = compare(reference, _run(graph, images), labels)
        report.units.append(UnitDrift(unit.name, unit.kind, drift, pairs))
        progress.note(f"{index + 1}/{len(units)} {unit.name}: PSNR {drift.psnr_db:.1f} dB, cosine {drift.cosine:.5f}")
    return report


def format_report(report: SensitivityReport, top: int | None = None) -> str:
    """The ranking as a table, worst first, with the fully quantized model on top."""
    header = ["rank", "unit", "kind", "int8 tensors", "PSNR dB", "cosine", "top-1 agree", "accuracy"]
    rows = [header]
    full = report.full
    rows.append(["-", "all", full.kind, str(full.quantized_tensors), f"{full.drift.psnr_db:.1f}", f"{full.drift.cosine:.6f}",
                 f"{full.drift.top1_agreement:.3f}", f"{full.drift.accuracy:.3f}" if full.drift.accuracy is not None else "-"])
    for rank, unit in enumerate(report.ranked()[:top] if top else report.ranked(), start=1):
        d = unit.drift
        rows.append([str(rank), unit.unit, unit.kind, str(unit.quantized_tensors), f"{d.psnr_db:.1f}", f"{d.cosine:.6f}",
                     f"{d.top1_agreement:.3f}", f"{d.accuracy:.3f}" if d.accuracy is not None else "-"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    worst = report.suggestion()
    lines.append("")
    lines.append(f"{report.target}: {report.method}, {report.observer} observer, {report.images} images, {report.calibration_images} calibration images")
    if worst:
        lines.append(f"to keep the most sensitive blocks in float: mvedge convert --target {report.target} --precision int8 --exclude {','.join(worst)}")
    return "\n".join(lines)
