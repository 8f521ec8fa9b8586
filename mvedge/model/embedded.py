"""The embedded default model: a small MambaVision trained on scikit-learn's bundled digits.

Why: every mvedge command must be usable with no download and no checkpoint of one's own, and
the tests need a model with real accuracy (random weights cannot show that a conversion or a
quantization kept the model *working*). So mvedge ships `mambavision-digits`: the MambaVision
architecture with reduced dims (same modules; 128 px input so levels 2/3 scan 64 and 16 tokens in
chunks of 8, and the scan and its inter-chunk carry visibly drive the logits), fp32 weights in
`mvedge/assets/mambavision_digits.safetensors` (~2.3 MB), trained by
`scripts/train_default_model.py` on `mvedge.data.digits`. Its JSON sidecar,
`mvedge/assets/mambavision_digits.json`, holds the exact build options, labels, preprocessing,
the training record and how much the selective scan matters to the outputs.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from typing import Any

from mvedge.model.checkpoints import CheckpointError, load_state_dict_strict
from mvedge.model.mambavision import MambaVision
from mvedge.model.preprocessing import Preprocessing

DEFAULT_MODEL_NAME = "mambavision-digits"
"""Name of the embedded default model (what commands use when no model is given)."""

ASSET_JSON = "mambavision_digits.json"
ASSET_WEIGHTS = "mambavision_digits.safetensors"


def _asset(name: str):
    return resources.files("mvedge") / "assets" / name


def default_model_info() -> dict[str, Any]:
    """The sidecar of the embedded model: name, config (build options), labels, preprocessing
    (`Preprocessing.to_dict()`), training record and scan sensitivity."""
    try:
        return json.loads(_asset(ASSET_JSON).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CheckpointError(
            f"the embedded model's sidecar mvedge/assets/{ASSET_JSON} is missing; reinstall mvedge "
            "or recreate it with scripts/train_default_model.py"
        ) from exc


def default_preprocessing() -> Preprocessing:
    """How an image becomes the embedded model's input (128x128, squash, bilinear, mean/std 0.5)."""
    return Preprocessing.from_dict(default_model_info()["preprocessing"], f"mvedge/assets/{ASSET_JSON}")


def load_default_model() -> MambaVision:
    """The embedded model with its weights, in eval mode (strict load; the weights' SHA-256 is
    checked against the sidecar so a damaged asset fails loudly instead of giving wrong outputs)."""
    from safetensors.torch import load

    info = default_model_info()
    try:
        blob = _asset(info.get("weights", ASSET_WEIGHTS)).read_bytes()
    except FileNotFoundError as exc:
        raise CheckpointError(
            f"the embedded model's weights mvedge/assets/{ASSET_WEIGHTS} are missing; reinstall mvedge "
            "or recreate them with scripts/train_default_model.py"
        ) from exc
    expected = info.get("weights_sha256")
    if expected and hashlib.sha256(blob).hexdigest() != expected:
        raise CheckpointError(
            f"the embedded weights mvedge/assets/{ASSET_WEIGHTS} do not match the SHA-256 in {ASSET_JSON}; "
            "reinstall mvedge or recreate both with scripts/train_default_model.py"
        )
    model = MambaVision(**info["config"])
    load_state_dict_strict(model, load(blob))
    return model.eval()
