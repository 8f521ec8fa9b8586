"""The model definition: official key sets for every variant, forward shapes, modes, any input size."""

from __future__ import annotations

import pytest
import torch

import mvedge
from mvedge.model.configs import test_config
from mvedge.model.mambavision import Attention, MambaVisionMixer, window_partition, window_reverse

SMALL = test_config("tiny", depths=[1, 1, 3, 2])  # three level-2 blocks: two Mamba, then attention


@pytest.mark.parametrize("name", mvedge.VARIANTS)
def test_state_dict_matches_official_keys_and_shapes(name: str, official_keys: dict) -> None:
    official = official_keys[name.replace("-", "_").replace("K", "k")]
    with torch.device("meta"):
        model = mvedge.build(**mvedge.config(name))
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert ours == {k: list(v) for k, v in official["state_dict"].items()}
    assert sum(p.numel() for p in model.parameters()) == official["num_params"]
    arch = official["arch"]
    cfg = mvedge.config(name)
    for key in ("dim", "in_dim", "depths", "num_heads", "window_size", "layer_scale", "layer_scale_conv"):
        assert cfg[key] == arch[key], key
    assert cfg["dropout"] == arch["drop_path_rate"]


@pytest.mark.parametrize("name", mvedge.VARIANTS)
def test_preprocessing_matches_official_default_cfg(name: str, official_keys: dict) -> None:
    cfg = official_keys[name.replace("-", "_").replace("K", "k")]["default_cfg"]
    pre = mvedge.preprocessing(name)
    assert pre.input_size == cfg["input_size"][1] == mvedge.config(name)["image_size"]
    assert pre.crop_pct == cfg["crop_pct"] and pre.crop_mode == cfg["crop_mode"]
    assert pre.interpolation == cfg["interpolation"]
    assert list(pre.mean) == cfg["mean"] and list(pre.std) == cfg["std"]


def test_preprocessing_resize_sizes() -> None:
    assert mvedge.preprocessing("T").resize_size() == 224
    assert mvedge.preprocessing("T2").resize_size() == 228
    assert mvedge.preprocessing("S").resize_size() == 240
    assert mvedge.preprocessing("L2-512-21K").resize_size() == 550
    assert mvedge.preprocessing("T").to_dict()["mean"] == (0.485, 0.456, 0.406)


def test_mamba_and_attention_placement() -> None:
    model = mvedge.build(**SMALL)
    kinds = [type(b.mixer) for b in model.levels[2].blocks]
    assert kinds == [MambaVisionMixer, MambaVisionMixer, Attention]  # first ceil(3/2) are Mamba
    kinds = [type(b.mixer) for b in model.levels[3].blocks]
    assert kinds == [MambaVisionMixer, Attention]


def test_forward_shapes_and_head_split() -> None:
    torch.manual_seed(0)
    model = mvedge.build(**SMALL).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        feats = model.forward_features(x)
        logits = model(x)
    assert feats.shape == (2, 64) and logits.shape == (2, 10)
    torch.testing.assert_close(model.forward_head(feats), logits)


def test_no_classes_returns_pooled_features() -> None:
    model = mvedge.build(**{**SMALL, "num_classes": None}).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 64))
    assert out.shape == (1, mvedge.output_size({**SMALL, "num_classes": None})) == (1, 64)


def test_seed_api_call_without_num_classes_returns_features() -> None:
    """The reference API's call, `build(dim=80, depths=..., num_heads=...)`, has no classifier head:
    it returns the pooled (batch, 8*dim) features, as wide as `output_size` says."""
    options = dict(dim=80, depths=[1, 3, 8, 4], num_heads=[2, 4, 8, 16])
    with torch.device("meta"):
        model = mvedge.build(**options).eval()
        out = model(torch.randn(2, 3, 224, 224))
    assert model.num_classes is None and isinstance(model.head, torch.nn.Identity)
    assert tuple(out.shape) == (2, mvedge.output_size(options)) == (2, 640)


def test_small_model_without_num_classes_gives_its_features() -> None:
    options = {k: v for k, v in SMALL.items() if k != "num_classes"}
    torch.manual_seed(0)
    model = mvedge.build(**options).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model.forward_features(x))
    assert not any(k.startswith("head.") for k in model.state_dict())


@pytest.mark.parametrize("name", mvedge.VARIANTS)
def test_official_variants_give_1000_logits(name: str) -> None:
    with torch.device("meta"):
        model = mvedge.build(**mvedge.config(name))
    assert isinstance(model.head, torch.nn.Linear) and model.head.out_features == 1000


@pytest.mark.parametrize("hw", [(64, 64), (37, 53), (100, 30), (16, 16)])
def test_any_input_size(hw: tuple[int, int]) -> None:
    model = mvedge.build(**SMALL).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, *hw))
    assert out.shape == (1, 10) and torch.isfinite(out).all()


def test_in_channels() -> None:
    model = mvedge.build(**{**SMALL, "in_channels": 1}).eval()
    assert model(torch.randn(1, 1, 64, 64)).shape == (1, 10)


def test_train_and_eval_modes() -> None:
    torch.manual_seed(0)
    model = mvedge.build(**{**SMALL, "dropout": 0.5})
    x = torch.randn(4, 3, 64, 64)
    model.train()
    loss = model(x).square().mean()
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.levels[2].blocks[0].mixer.A_log.grad.abs().sum() > 0  # gradients reach the scan
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x))  # drop path is off in eval


def test_window_partition_round_trip_and_order() -> None:
    x = torch.arange(2 * 3 * 8 * 12, dtype=torch.float32).reshape(2, 3, 8, 12)
    windows = window_partition(x, 4)
    assert windows.shape == (2 * 2 * 3, 16, 3)
    # second window of the first image = rows 0..3, columns 4..7, row-major, channels last
    torch.testing.assert_close(windows[1, :, 0], x[0, 0, :4, 4:8].reshape(-1))
    torch.testing.assert_close(windows[3, 0], x[0, :, 4, 0])  # window row 1, column 0
    torch.testing.assert_close(window_reverse(windows, 4, 8, 12), x)


def test_layer_scale_keys() -> None:
    model = mvedge.build(**{**SMALL, "layer_scale": 1e-5, "layer_scale_conv": 1e-5})
    keys = model.state_dict().keys()
    assert "levels.2.blocks.0.gamma_1" in keys and "levels.0.blocks.0.gamma" in keys
    assert not any("gamma" in k for k in mvedge.build(**SMALL).state_dict())
