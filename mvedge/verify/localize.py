"""Drift localisation: compare an artifact's intermediate tensors with the float model block by
block and name the first block whose drift crosses the precision's threshold.

Where each runtime's block outputs come from:
- onnx: onnxruntime, with each block's last node output added to the graph outputs (the exporter
  records module scopes in node metadata, `pkg.torch.onnx.name_scopes`);
- tflite: ai-edge-litert without delegates and with every tensor preserved (litert-torch names
  tensors after the module path); XNNPACK's internals are not visible, so localisation runs the
  builtin kernels, and numbers can differ slightly from the XNNPACK run;
- coreml: mvedge's MIL interpreter keeps every value; the converter records which torch.export node
  makes each block's output (`conversion.block_outputs` in the sidecar), and MIL keeps that name;
- executorch: not available. A delegated program's intermediate tensors are inside the delegate
  and the Python runtime does not hand them out.
"""

from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from mvedge.errors import BadInput
from mvedge.model.blocks import block_paths, in_scope
from mvedge.model.bundle import ModelBundle
from mvedge.verify.metrics import psnr_db
from mvedge.verify.runners import open_runner
from mvedge.verify.thresholds import threshold_for


class LocalizationUnavailable(BadInput):
    """The artifact's runtime does not expose intermediate tensors (exit code 2: localize another
    target's artifact)."""


@dataclass(frozen=True)
class BlockDrift:
    """One block's output in the runtime against the float model's."""

    block: str
    tensor: str | None  # the runtime's name for it (None: not found)
    psnr_db: float | None
    cosine: float | None
    max_abs: float | None
    passed: bool | None  # None: not comparable (not found, or shapes do not line up)
    note: str = ""


@dataclass
class Localization:
    """Block-by-block drift of an artifact and the first block past the threshold."""

    runtime: str
    precision: str
    rows: list[BlockDrift] = field(default_factory=list)

    @property
    def first_failing(self) -> str | None:
        """The first block whose drift crosses the threshold, or None."""
        return next((row.block for row in self.rows if row.passed is False), None)

    def to_dict(self) -> dict:
        """Plain-JSON form (for --json)."""
        return {"runtime": self.runtime, "precision": self.precision, "first_failing": self.first_failing,
                "blocks": [asdict(row) for row in self.rows]}


def reference_blocks(model: nn.Module, images: np.ndarray, blocks: list[str], batch: int = 16) -> dict[str, np.ndarray]:
    """The float model's block outputs for `images`, concatenated over the images (image-major)."""
    modules = dict(model.named_modules())
    captured: dict[str, list[np.ndarray]] = {block: [] for block in blocks}
    hooks = [modules[block].register_forward_hook(lambda _m, _i, out, b=block: captured[b].append(out.detach().numpy().copy()))
             for block in blocks]
    try:
        with torch.no_grad():
            for start in range(0, len(images), batch):
                model(torch.from_numpy(np.ascontiguousarray(images[start : start + batch])))
    finally:
        for hook in hooks:
            hook.remove()
    return {block: np.concatenate(parts, axis=0) for block, parts in captured.items()}


def align(value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """`value` in the reference's `shape`: as is, from channels-last (NHWC), or reshaped when
    only the grouping of dimensions differs; None when it cannot be lined up."""
    value = np.asarray(value, dtype=np.float64)
    if value.shape == tuple(shape):
        return value
    if value.ndim == 4 and len(shape) == 4 and value.transpose(0, 3, 1, 2).shape == tuple(shape):
        return value.transpose(0, 3, 1, 2)
    if value.size == int(np.prod(shape)) and value.shape[:1] == tuple(shape[:1]):
        return value.reshape(shape)
    return None


def _block_drift(block: str, name: str | None, value: np.ndarray | None, reference: np.ndarray, precision: str) -> BlockDrift:
    if value is None or name is None:
        return BlockDrift(block, name, None, None, None, None, "no tensor found for this block in the runtime")
    aligned = align(value, reference.shape)
    if aligned is None:
        return BlockDrift(block, name, None, None, None, None, f"shape {tuple(np.shape(value))} does not line up with {reference.shape}")
    ref = reference.astype(np.float64).reshape(len(reference), -1)
    out = aligned.reshape(len(reference), -1)
    if not np.all(np.isfinite(out)):
        return BlockDrift(block, name, float("-inf"), float("nan"), float("inf"), False, "non-finite values")
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(out, axis=1)
    cosine = float(np.mean(np.sum(ref * out, axis=1) / np.maximum(norms, 1e-30)))
    psnr = psnr_db(ref, out)
    limit = threshold_for(precision)
    return BlockDrift(block, name, psnr, cosine, float(np.max(np.abs(out - ref))), psnr >= limit.min_psnr_db and cosine >= limit.min_cosine)


# ---------------------------------------------------------------- per-runtime block outputs

def _onnx_blocks(path: Path, images: np.ndarray, blocks: list[str], model: nn.Module) -> tuple[str, dict[str, tuple[str, np.ndarray]]]:
    import onnx
    import onnxruntime as ort

    proto = onnx.load(str(path))
    names: dict[str, str] = {}
    for node in proto.graph.node:
        scopes = next((p.value for p in node.metadata_props if p.key == "pkg.torch.onnx.name_scopes"), None)
        if not scopes or not node.output:
            continue
        paths = ast.literal_eval(scopes)
        for block in blocks:
            if any(in_scope(p, block) for p in paths):
                names[block] = node.output[0]
    existing = {o.name for o in proto.graph.output}
    for name in sorted(set(names.values()) - existing):
        proto.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    wanted = sorted(set(names.values()))
    parts: dict[str, list[np.ndarray]] = {n: [] for n in wanted}
    for start in range(0, len(images), 16):
        for name, value in zip(wanted, session.run(wanted, {input_name: images[start : start + 16].astype(np.float32)})):
            parts[name].append(value)
    values = {n: np.concatenate(v, axis=0) for n, v in parts.items()}
    return "onnxruntime", {block: (name, values[name]) for block, name in names.items()}


def litert_scope(model: nn.Module, block: str) -> str:
    """The prefix litert-torch gives tensors made inside `block`: the module path written as
    '<module.Class>_<attribute>' per level (containers without forward, like ModuleList, skipped)."""
    parts = [f"{type(model).__module__}.{type(model).__qualname__}"]
    module = model
    for attr in block.split("."):
        module = getattr(module, attr) if not attr.isdigit() else module[int(attr)]
        if isinstance(module, nn.ModuleList):
            continue
        parts.append(f"{type(module).__module__}.{type(module).__qualname__}_{attr}")
    return "/".join(parts)


def _litert_blocks(path: Path, images: np.ndarray, blocks: list[str], model: nn.Module) -> tuple[str, dict[str, tuple[str, np.ndarray]]]:
    from mvedge.verify.runners.litert import LiteRTRunner, dequantize

    runner = LiteRTRunner(path, xnnpack=False, preserve_all_tensors=True)
    interpreter = runner.interpreter
    details = {d["index"]: d for d in interpreter.get_tensor_details()}
    chosen: dict[str, int] = {}
    for op in interpreter._get_ops_details():  # execution order
        for index in op["outputs"]:
            name = details[index]["name"]
            for block in blocks:
                scope = litert_scope(model, block)
                if any(part == scope or part.startswith(scope + "/") for part in name.split(";")):
                    chosen[block] = index
    parts: dict[str, list[np.ndarray]] = {block: [] for block in chosen}
    for start in range(0, len(images), runner.batch):
        chunk = images[start : start + runner.batch]
        runner._invoke(chunk)
        for block, index in chosen.items():
            value = dequantize(interpreter.get_tensor(index), details[index])
            rows = value.shape[0] // runner.batch if value.ndim and value.shape[0] % runner.batch == 0 else 0
            parts[block].append(value[: len(chunk) * rows] if rows and len(chunk) < runner.batch else value)
    return f"{runner.runtime} (builtin kernels, all tensors kept)", {
        block: (details[index]["name"].split(";")[0], np.concatenate(parts[block], axis=0)) for block, index in chosen.items()
    }


def _coreml_blocks(path: Path, images: np.ndarray, blocks: list[str], model: nn.Module) -> tuple[str, dict[str, tuple[str, np.ndarray]]]:
    from mvedge.verify.runners.coreml import CoreMLRunner

    runner = CoreMLRunner(path, backend="interpreter")
    nodes = runner.sidecar.conversion.get("block_outputs") if runner.sidecar is not None else None
    if not nodes:
        raise LocalizationUnavailable(f"{path.name}'s sidecar has no block map (conversion.block_outputs); convert it again with this mvedge")
    produced = [o.name for op in runner.model.function.operations if op.op_type != "const" for o in op.outputs]
    names: dict[str, str] = {}
    for block in blocks:
        node = nodes.get(block)
        match = [n for n in produced if node and (n == node or re.fullmatch(re.escape(node) + r"_cast_fp(16|32)", n))]
        if match:
            names[block] = match[-1]
    parts: dict[str, list[np.ndarray]] = {block: [] for block in names}
    for feed in runner.feeds(images):
        values = runner.model.predict(feed, keep_intermediates=True)
        for block, name in names.items():
            parts[block].append(np.asarray(values[name], dtype=np.float32))
    return "mvedge MIL interpreter", {block: (names[block], np.concatenate(parts[block], axis=0)) for block in names}


_BY_SUFFIX: dict[str, Callable] = {".onnx": _onnx_blocks, ".tflite": _litert_blocks, ".mlpackage": _coreml_blocks}


def localize(artifact: str | Path, bundle: ModelBundle, images: np.ndarray, precision: str) -> Localization:
    """Block-by-block drift of `artifact` on `images` against `bundle`'s float model."""
    artifact = Path(artifact)
    if artifact.suffix == ".pte":
        raise LocalizationUnavailable(
            "ExecuTorch's Python runtime does not expose the intermediate tensors of a delegated program; "
            "localize the same model converted to onnx or tflite instead"
        )
    collect = _BY_SUFFIX.get(artifact.suffix)
    if collect is None:
        open_runner(artifact)  # raises the usual unknown-type / missing-file error
        raise LocalizationUnavailable(f"no block-by-block comparison for {artifact.suffix} artifacts")
    blocks = block_paths(bundle.model)
    runtime, found = collect(artifact, images, blocks, bundle.model)
    reference = reference_blocks(bundle.model, images, blocks)
    report = Localization(runtime, precision)
    for block in blocks:
        name, value = found.get(block, (None, None))
        report.rows.append(_block_drift(block, name, value, reference[block], precision))
    return report


def format_localization(report: Localization) -> str:
    """The block table and a closing line naming the first failing block."""
    lines = [f"block-by-block drift ({report.runtime}; threshold of {report.precision})", f"{'block':<22} {'PSNR dB':>8} {'cosine':>10} {'max abs':>9}  result"]
    for row in report.rows:
        if row.passed is None:
            lines.append(f"{row.block:<22} {'-':>8} {'-':>10} {'-':>9}  n/a: {row.note}")
            continue
        lines.append(f"{row.block:<22} {row.psnr_db:>8.1f} {row.cosine:>10.6f} {row.max_abs:>9.3g}  {'ok' if row.passed else 'PAST THRESHOLD'}")
    first = report.first_failing
    lines.append(f"first block past the threshold: {first}" if first else "no block crosses the threshold")
    return "\n".join(lines)
