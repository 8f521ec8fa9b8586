"""Parity with the official MambaVision (PyPI mambavision 1.2.0, reference scan) on golden files.

The goldens were made by scripts/make_goldens.py from seeded random weights for small configs of
every block type, with and without layer scale, at the native size and at two sizes that need
window padding (one non-square). The official package is not needed here.
"""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

import mvedge
from mvedge.model.checkpoints import load_state_dict_strict

from tests.conftest import GOLDENS

CASES = ("hybrid_nols", "hybrid_ls")
TOLERANCE = 1e-4  # max abs error, fp32


def build_options(official: dict) -> dict:
    """Official constructor kwargs -> mvedge build options."""
    return {
        "dim": official["dim"],
        "in_dim": official["in_dim"],
        "depths": official["depths"],
        "num_heads": official["num_heads"],
        "window_size": official["window_size"],
        "mlp_ratio": official["mlp_ratio"],
        "dropout": official["drop_path_rate"],
        "layer_scale": official["layer_scale"],
        "layer_scale_conv": official["layer_scale_conv"],
        "num_classes": official["num_classes"],
        "in_channels": official["in_chans"],
    }


def load_case(name: str, index: dict, **extra) -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
    data = load_file(str(GOLDENS / f"{name}.safetensors"))
    state = {k.split("/", 1)[1]: v for k, v in data.items() if k.startswith("state_dict/")}
    model = mvedge.build(**build_options(index["cases"][name]["official_kwargs"]), **extra)
    load_state_dict_strict(model, state)
    return model.eval(), data


def run_with_features(model: torch.nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    feats: dict[str, torch.Tensor] = {}
    hooks = [model.patch_embed.register_forward_hook(lambda _m, _i, o: feats.__setitem__("patch_embed", o))]
    for i, level in enumerate(model.levels):
        hooks.append(level.register_forward_hook(lambda _m, _i, o, i=i: feats.__setitem__(f"levels.{i}", o)))
    try:
        with torch.no_grad():
            feats["logits"] = model(x)
            feats["forward_features"] = model.forward_features(x)
    finally:
        for hook in hooks:
            hook.remove()
    return feats


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("size", ["64x64", "80x80", "72x104"])
def test_matches_official_outputs_and_stage_features(name: str, size: str, golden_index: dict) -> None:
    model, data = load_case(name, golden_index)
    got = run_with_features(model, data[f"{size}/input"].float())
    for key in ("patch_embed", "levels.0", "levels.1", "levels.2", "levels.3", "forward_features", "logits"):
        expected = data[f"{size}/{key}"]
        assert got[key].shape == expected.shape, key
        err = float((got[key] - expected).abs().max())
        assert err <= TOLERANCE, f"{name} {size} {key}: max abs error {err:.3g} > {TOLERANCE}"


@pytest.mark.parametrize("chunk", [1, 3, 16])
def test_parity_holds_for_any_scan_chunk_size(chunk: int, golden_index: dict) -> None:
    model, data = load_case("hybrid_nols", golden_index, scan_chunk_size=chunk)
    with torch.no_grad():
        logits = model(data["80x80/input"].float())
    assert float((logits - data["80x80/logits"]).abs().max()) <= TOLERANCE


def test_goldens_catch_a_single_dt_bias(golden_index: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """The parity test can fail: applying the dt bias once instead of twice is caught."""
    from mvedge.model import mambavision

    model, data = load_case("hybrid_nols", golden_index)
    original = mambavision.SelectiveScan.forward

    def single_bias(self, u, delta, A, B, C, D, delta_bias):
        return original(self, u, delta, A, B, C, D, delta_bias * 0)

    monkeypatch.setattr(mambavision.SelectiveScan, "forward", single_bias)
    with torch.no_grad():
        logits = model(data["64x64/input"].float())
    assert float((logits - data["64x64/logits"]).abs().max()) > 100 * TOLERANCE


def test_goldens_catch_masked_window_padding(golden_index: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Padding that differs from the official zero padding (here: replicate) is caught."""
    import torch.nn.functional as F

    from mvedge.model import mambavision

    model, data = load_case("hybrid_ls", golden_index)
    real_pad = F.pad
    monkeypatch.setattr(mambavision.F, "pad", lambda x, pad, *a, **k: real_pad(x, pad, mode="replicate") if x.ndim == 4 else real_pad(x, pad, *a, **k))
    with torch.no_grad():
        logits = model(data["72x104/input"].float())
    assert float((logits - data["72x104/logits"]).abs().max()) > 100 * TOLERANCE
