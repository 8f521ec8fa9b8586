"""Drift metrics between an artifact's outputs and the float reference's."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass

import numpy as np

from mvedge.errors import BadInput


@dataclass(frozen=True)
class Drift:
    """How far an artifact's outputs (N, K) are from the float reference's. For an artifact with
    several outputs, the numbers are the worst output's (lowest PSNR, named by `output`), and
    `outputs` holds each output's own; top-1 agreement, top-5 overlap and accuracy are None for
    outputs that are not logits (feature vectors and stage maps have no classes)."""

    max_abs: float
    mean_abs: float
    cosine: float
    psnr_db: float
    top1_agreement: float | None
    top5_overlap: float | None
    samples: int
    accuracy: float | None = None
    reference_accuracy: float | None = None
    output: str | None = None
    outputs: dict[str, dict] | None = None
    size: str | None = None  # a multi-size artifact: the worst size ('256x320'), its numbers above
    sizes: dict[str, dict] | None = None  # and each size's own numbers

    def to_dict(self) -> dict:
        """Plain-JSON form (sidecars, --json); the per-output fields only for several outputs, the
        per-size fields only for several sizes."""
        data = asdict(self)
        if self.outputs is None:
            del data["output"], data["outputs"]
        if self.sizes is None:
            del data["size"], data["sizes"]
        return data


def worst_of(drifts: dict[str, Drift]) -> Drift:
    """One Drift for several outputs: the numbers of the one with the lowest PSNR (ties: lowest
    cosine), naming it, with every output's numbers under `outputs`."""
    name = min(drifts, key=lambda n: (_ordered(drifts[n].psnr_db), _ordered(drifts[n].cosine)))
    per_output = {n: {k: v for k, v in d.to_dict().items() if k not in ("samples",)} for n, d in drifts.items()}
    return dataclasses.replace(drifts[name], output=name, outputs=per_output)


def worst_size(drifts: dict[str, Drift]) -> Drift:
    """One Drift for a multi-size artifact: the numbers of the size with the lowest PSNR (ties:
    lowest cosine), naming it, with every size's numbers under `sizes`; it decides pass/fail."""
    name = min(drifts, key=lambda n: (_ordered(drifts[n].psnr_db), _ordered(drifts[n].cosine)))
    return dataclasses.replace(drifts[name], size=name, sizes={n: d.to_dict() for n, d in drifts.items()})


def _ordered(value: float) -> float:
    """NaN sorts first (worst)."""
    return float("-inf") if value != value else value


def compare_maps(reference: np.ndarray, output: np.ndarray) -> Drift:
    """Drift of a feature vector or stage map output: PSNR, cosine, max/mean abs; no class metrics."""
    return dataclasses.replace(compare(reference, output), top1_agreement=None, top5_overlap=None)


def psnr_db(reference: np.ndarray, output: np.ndarray) -> float:
    """20*log10(max|ref| / RMSE); infinite when the outputs are identical."""
    rmse = float(np.sqrt(np.mean((output.astype(np.float64) - reference.astype(np.float64)) ** 2)))
    peak = float(np.max(np.abs(reference)))
    if rmse == 0.0:
        return float("inf")
    return 20.0 * float(np.log10(peak / rmse)) if peak > 0 else float("-inf")


def compare(reference: np.ndarray, output: np.ndarray, labels: np.ndarray | None = None) -> Drift:
    """Drift of `output` against `reference` (both (N, K) logits or features); with `labels`,
    also the top-1 accuracy of both."""
    ref = np.asarray(reference, dtype=np.float64)
    out = np.asarray(output, dtype=np.float64)
    if ref.shape != out.shape:
        raise BadInput(f"output shape {out.shape} differs from the reference's {ref.shape}")
    if not np.all(np.isfinite(out)):
        return Drift(float("inf"), float("inf"), float("nan"), float("-inf"), 0.0, 0.0, len(ref))
    diff = np.abs(out - ref)
    flat_ref, flat_out = ref.reshape(len(ref), -1), out.reshape(len(out), -1)
    norms = np.linalg.norm(flat_ref, axis=1) * np.linalg.norm(flat_out, axis=1)
    cosine = float(np.mean(np.sum(flat_ref * flat_out, axis=1) / np.maximum(norms, 1e-30)))
    k = min(5, flat_ref.shape[1])
    top1 = float(np.mean(flat_ref.argmax(1) == flat_out.argmax(1)))
    ref_top = np.argsort(-flat_ref, axis=1)[:, :k]
    out_top = np.argsort(-flat_out, axis=1)[:, :k]
    overlap = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(ref_top, out_top)]))
    accuracy = reference_accuracy = None
    if labels is not None:
        labels = np.asarray(labels)
        accuracy = float(np.mean(flat_out.argmax(1) == labels))
        reference_accuracy = float(np.mean(flat_ref.argmax(1) == labels))
    return Drift(
        max_abs=float(diff.max()),
        mean_abs=float(diff.mean()),
        cosine=cosine,
        psnr_db=psnr_db(ref, out),
        top1_agreement=top1,
        top5_overlap=overlap,
        samples=len(ref),
        accuracy=accuracy,
        reference_accuracy=reference_accuracy,
    )
