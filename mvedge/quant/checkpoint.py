"""QAT checkpoints: float weights tuned under a target's int8 fake quantization, saved as
.safetensors that `mvedge convert --weights` loads, with what convert needs to match them.

What a "QAT checkpoint" is here, for every target: the model's float weights after
quantization-aware fine-tuning (fake quantizers folded away), plus metadata (`mvedge_qat`):
the target, the observer and recipe options the conversion should use, and the base model's
preprocessing and labels. `mvedge convert --precision int8` re-quantizes those weights with the
target's own PTQ recipe: per-channel weight scales follow from the weights exactly as during
training; activation ranges are calibrated again (QAT's moving-average ranges are not carried
over). Converting it for another target or precision works, without QAT's benefit.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from mvedge.model.bundle import ModelBundle
from mvedge.model.checkpoints import CheckpointError, read_safetensors_metadata, save_checkpoint_atomic
from mvedge.model.mambavision import MambaVision
from mvedge.model.preprocessing import Preprocessing

QAT_KEY = "mvedge_qat"


def save_qat_checkpoint(model: MambaVision, path: str | os.PathLike, info: dict[str, Any]) -> None:
    """Write weights and config (the keys `load_checkpoint` reads) plus the QAT metadata, atomically."""
    save_checkpoint_atomic(model, path, {QAT_KEY: json.dumps(info)})


def read_qat_info(path: str | os.PathLike | None) -> dict[str, Any] | None:
    """The QAT metadata of a .safetensors checkpoint, or None for any other checkpoint."""
    metadata = read_safetensors_metadata(path)
    if metadata is None or QAT_KEY not in metadata:
        return None
    try:
        return json.loads(metadata[QAT_KEY])
    except ValueError as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} has an unreadable {QAT_KEY} metadata entry ({exc})") from exc


def apply_qat_info(bundle: ModelBundle, info: dict[str, Any]) -> ModelBundle:
    """The bundle with the base model's preprocessing, labels and a name saying it is QAT-tuned."""
    pre = info.get("preprocessing")
    if pre:
        fields = {f.name for f in dataclasses.fields(Preprocessing)}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in pre.items() if k in fields}
        bundle.preprocessing = Preprocessing(**values)
        bundle.config["image_size"] = bundle.preprocessing.input_size
    if info.get("labels"):
        bundle.labels = list(info["labels"])
    bundle.name = f"{info.get('base_name') or bundle.name}-qat-{info.get('target', 'int8')}"
    bundle.extra["qat"] = info
    return bundle


def data_bundle(bundle: ModelBundle) -> ModelBundle:
    """The bundle whose default images fit this model: a QAT-tuned embedded digits model is
    calibrated and checked on the digits (held-out split) like the embedded model itself."""
    info = bundle.extra.get("qat") or {}
    if info.get("base_source") == "embedded":
        return dataclasses.replace(bundle, source="embedded")
    return bundle
