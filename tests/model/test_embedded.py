"""The embedded default model (mambavision-digits): loads offline, is accurate on the held-out digits,
its sidecar describes it, it is small, and its selective scan (with the inter-chunk carry) matters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import mvedge
from mvedge.data.digits import DIGIT_LABELS, digits_tensor
from mvedge.model import embedded, scan
from mvedge.model.checkpoints import CheckpointError

ASSETS = Path(embedded.__file__).resolve().parents[1] / "assets"


@pytest.fixture(scope="module")
def model() -> mvedge.MambaVision:
    return embedded.load_default_model()


@pytest.fixture(scope="module")
def heldout() -> tuple[torch.Tensor, torch.Tensor]:
    return digits_tensor("test", embedded.default_preprocessing())


@pytest.fixture(scope="module")
def logits(model: mvedge.MambaVision, heldout: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        return model(heldout[0])


def test_loads_in_eval_mode_with_the_sidecar_config(model: mvedge.MambaVision) -> None:
    info = embedded.default_model_info()
    assert info["name"] == embedded.DEFAULT_MODEL_NAME == "mambavision-digits"
    assert not model.training
    assert info["config"] == model.config == mvedge.model.resolve_config(**info["config"])
    assert info["labels"] == DIGIT_LABELS and model.num_classes == len(DIGIT_LABELS)
    # the level-3 map (image/32 squared tokens, one window) and so level 2 are scanned in several chunks
    assert model.config["scan_chunk_size"] < (model.config["image_size"] // 32) ** 2


def test_preprocessing_round_trips(model: mvedge.MambaVision) -> None:
    pre = embedded.default_preprocessing()
    assert pre.input_size == model.config["image_size"]
    assert json.loads(json.dumps(pre.to_dict())) == embedded.default_model_info()["preprocessing"]


def test_heldout_top1(logits: torch.Tensor, heldout: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = heldout
    assert x.shape == (360, 3, 128, 128) and logits.shape == (360, 10)
    assert torch.isfinite(logits).all()
    accuracy = float((logits.argmax(1) == y).float().mean())
    assert accuracy >= 0.97, accuracy


def test_output_shape_any_batch(model: mvedge.MambaVision) -> None:
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 128, 128)).shape == (1, 10)
        assert model.forward_features(torch.zeros(2, 3, 128, 128)).shape == (2, 8 * model.config["dim"])


def test_asset_size() -> None:
    weights = ASSETS / embedded.ASSET_WEIGHTS
    assert weights.is_file() and weights.stat().st_size < 5 * 1024 * 1024
    assert json.loads((ASSETS / embedded.ASSET_JSON).read_text())["weights"] == weights.name


def test_damaged_weights_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    info = embedded.default_model_info()
    info["weights_sha256"] = "0" * 64
    monkeypatch.setattr(embedded, "default_model_info", lambda: info)
    with pytest.raises(CheckpointError, match="SHA-256"):
        embedded.load_default_model()


def test_scan_and_carry_matter(model: mvedge.MambaVision, logits: torch.Tensor, heldout: tuple[torch.Tensor, torch.Tensor], monkeypatch: pytest.MonkeyPatch) -> None:
    """Converter drift tests rely on this model to catch a broken scan: zeroing the scan output, or
    dropping the state carried between chunks, must move the logits clearly."""
    x = heldout[0]
    scale = float(logits.abs().max())
    original = scan.chunked_scan_bld

    def per_chunk(u, delta, A, B, C, D=None, delta_bias=None, delta_softplus=True, chunk_size=49):
        t = chunk_size
        return torch.cat(
            [original(u[:, s : s + t], delta[:, s : s + t], A, B[:, s : s + t], C[:, s : s + t], D, delta_bias, delta_softplus, t)
             for s in range(0, u.shape[1], t)],
            dim=1,
        )

    with monkeypatch.context() as patch, torch.no_grad():
        patch.setattr(scan, "chunked_scan_bld", per_chunk)
        no_carry = float((model(x) - logits).abs().max())
    with monkeypatch.context() as patch, torch.no_grad():
        patch.setattr(scan.SelectiveScan, "forward", lambda self, u, *args: torch.zeros_like(u))
        zeroed = float((model(x) - logits).abs().max())
    # measured when the assets were made: 92% and 38% of max|logits| (see the sidecar's scan_sensitivity)
    assert zeroed >= 0.25 * scale, (zeroed, scale)
    assert no_carry >= 0.10 * scale, (no_carry, scale)
