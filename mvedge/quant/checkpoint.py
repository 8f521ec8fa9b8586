"""QAT checkpoints: float weights tuned under a target's int8 fake quantization, saved as
.safetensors that `mvedge convert --weights` loads, with what convert needs to match them.

What a "QAT checkpoint" is here, for every target: the model's float weights after
quantization-aware fine-tuning (fake quantizers folded away), plus metadata (`mvedge_qat`):
the target, the observer and recipe options the conversion should use, and the base model's
preprocessing, labels and domain. `mvedge convert --precision int8` re-quantizes those weights
with the target's own PTQ recipe: per-channel weight scales follow from the weights exactly as
during training; activation ranges are calibrated again (QAT's moving-average ranges are not
carried over). Converting it for another target or precision works, without QAT's benefit.

This module writes them; `mvedge.model.bundle.load_bundle` reads them back like any checkpoint.
"""

from __future__ import annotations

import json
import os
from typing import Any

from mvedge.model.bundle import QAT_KEY, read_qat_info
from mvedge.model.checkpoints import save_checkpoint_atomic
from mvedge.model.mambavision import MambaVision

__all__ = ["QAT_KEY", "read_qat_info", "save_qat_checkpoint"]


def save_qat_checkpoint(model: MambaVision, path: str | os.PathLike, info: dict[str, Any]) -> None:
    """Write weights and config (the keys `load_checkpoint` reads) plus the QAT metadata, atomically."""
    save_checkpoint_atomic(model, path, {QAT_KEY: json.dumps(info)})
