"""Build options: named configs, every official variant, the tiny test configs, validation errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import mvedge
from mvedge.model.configs import TEST_CONFIGS, canonical_variant, resolve_config, test_config
from mvedge.model.checkpoints import detect_variant

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "reference"


def test_variant_names() -> None:
    assert mvedge.VARIANTS == ("T", "T2", "S", "B", "L", "L2", "B-21K", "L-21K", "L2-512-21K", "L3-256-21K", "L3-512-21K")


@pytest.mark.parametrize("name", mvedge.VARIANTS)
def test_every_variant_config_is_valid_and_plain(name: str) -> None:
    cfg = mvedge.config(name)
    assert isinstance(cfg, dict)
    assert resolve_config(**cfg) == cfg
    assert cfg["num_classes"] == 1000  # explicit: the default is no head
    assert mvedge.output_size(cfg) == 1000


def test_named_configs() -> None:
    assert mvedge.tiny_config() == mvedge.config("T")
    assert mvedge.small_config()["dim"] == 96 and mvedge.small_config()["depths"] == [3, 3, 7, 5]
    assert mvedge.base_config()["dim"] == 128 and mvedge.base_config()["layer_scale"] == 1e-5
    assert mvedge.config("L3-512-21K")["window_size"] == [8, 8, 32, 16]
    assert mvedge.config("L3-512-21K")["image_size"] == 512


def test_configs_are_independent_copies() -> None:
    cfg = mvedge.config("T")
    cfg["depths"][0] = 99
    assert mvedge.config("T")["depths"][0] == 1


@pytest.mark.parametrize("alias,name", [("t", "T"), ("b_21k", "B-21K"), ("mamba_vision_L2_512_21k", "L2-512-21K")])
def test_variant_aliases(alias: str, name: str) -> None:
    assert canonical_variant(alias) == name


@pytest.mark.parametrize(
    "alias,name",
    [
        ("MambaVision-T-1K", "T"), ("mambavision_t", "T"), ("MambaVision-T2-1K", "T2"), ("MambaVision-B-21K", "B-21K"),
        ("mambavision-l2-512-21k", "L2-512-21K"), ("MambaVision-L3-256-21K", "L3-256-21K"), ("mambavision_b_1k", "B"),
    ],
)
def test_hugging_face_spellings_name_variants(alias: str, name: str) -> None:
    assert canonical_variant(alias) == name
    assert mvedge.config(alias) == mvedge.config(name) and mvedge.preprocessing(alias) == mvedge.preprocessing(name)


def test_a_repository_given_as_a_variant_points_to_weights() -> None:
    with pytest.raises(ValueError, match="unknown variant 'nvidia/MambaVision-T-1K'.*goes to --weights"):
        canonical_variant("nvidia/MambaVision-T-1K")
    with pytest.raises(ValueError, match="unknown variant 'MambaVision-X-1K'"):
        canonical_variant("MambaVision-X-1K")


def test_unknown_variant() -> None:
    with pytest.raises(ValueError, match="unknown variant 'X'"):
        mvedge.config("X")


def test_output_size() -> None:
    assert mvedge.output_size({"dim": 80, "num_classes": None}) == 640
    assert mvedge.output_size({"dim": 80, "num_classes": 10}) == 10


def test_default_is_no_classifier_head() -> None:
    """Without num_classes the options describe the pooled-feature model, 8*dim wide."""
    assert resolve_config()["num_classes"] is None
    assert resolve_config(dim=80, depths=[1, 3, 8, 4], num_heads=[2, 4, 8, 16])["num_classes"] is None
    assert mvedge.output_size({"dim": 80}) == 640
    assert mvedge.output_size({"dim": 96, "depths": [3, 3, 7, 5]}) == 768
    assert mvedge.output_size({}) == 8 * 80


@pytest.mark.parametrize(
    "options,message",
    [
        ({"depths": [1, 2, 3]}, "depths must be a list of 4"),
        ({"num_heads": [2, 4, 8]}, "num_heads must be a list of 4"),
        ({"window_size": [8, 8, 0, 7]}, "window_size must hold integers >= 1"),
        ({"dim": 80, "num_heads": [2, 4, 7, 16]}, r"num_heads\[2\]=7 does not divide"),
        ({"dim": 0}, "dim must be a positive integer"),
        ({"image_size": -3}, "image_size must be a positive integer"),
        ({"in_channels": 0}, "in_channels must be a positive integer"),
        ({"d_state": 0}, "d_state must be a positive integer"),
        ({"d_conv": 4}, "d_conv must be odd"),
        ({"mlp_ratio": 0}, "mlp_ratio must be a positive number"),
        ({"dropout": 1.5}, "dropout"),
        ({"num_classes": 0}, "num_classes must be a positive integer or None"),
        ({"layer_scale": -1.0}, "layer_scale must be a positive number or None"),
        ({"scan_chunk_size": 0}, "scan_chunk_size must be a positive integer or None"),
        ({"scan_chunk_size": 17}, r"scan_chunk_size must be <= 16 \(the model's two-pass scan unrolls each chunk\), got 17"),
        ({"depth": [1, 1, 1, 1]}, "unknown build option"),
    ],
)
def test_invalid_options_name_the_option(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        mvedge.build(**options)


@pytest.mark.parametrize("name", sorted(TEST_CONFIGS))
def test_each_test_config_builds_and_runs(name: str) -> None:
    cfg = test_config(name)
    assert resolve_config(**cfg)["num_classes"] == 10
    model = mvedge.build(**cfg).eval()
    size = cfg["image_size"]
    with torch.no_grad():
        out = model(torch.randn(1, 3, size, size))
    assert out.shape == (1, 10) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(TEST_CONFIGS))
def test_test_configs_are_not_official_variants(name: str) -> None:
    assert name not in mvedge.VARIANTS
    with pytest.raises(ValueError, match="unknown variant"):
        mvedge.config(name)
    with torch.device("meta"):
        state = mvedge.build(**test_config(name)).state_dict()
    assert detect_variant(state) is None


def test_test_config_overrides_and_copies() -> None:
    cfg = test_config("tiny", image_size=32, num_classes=4)
    assert cfg["image_size"] == 32 and cfg["num_classes"] == 4 and cfg["dim"] == TEST_CONFIGS["tiny"]["dim"]
    cfg["depths"][0] = 99
    assert test_config("tiny")["depths"][0] == TEST_CONFIGS["tiny"]["depths"][0] != 99
    with pytest.raises(ValueError, match="unknown test config 'huge'"):
        test_config("huge")


def test_the_t_shaped_reference_was_made_from_the_registry_entry() -> None:
    """The stored float reference (tests/fixtures/reference) records the config it was computed
    with; the registry entry must still build exactly that model."""
    recorded = json.loads((REFERENCE_DIR / "t-shaped.json").read_text())["config"]
    assert resolve_config(**test_config("t-shaped")) == recorded
