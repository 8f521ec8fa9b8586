"""Build options of MambaVision, the official variants by name, and option validation.

A config is a plain dict of `build()` options. The option names follow the reference API the
project was seeded with (image_size, in_channels, dim, depths, num_heads, mlp_ratio, dropout,
d_state, d_conv, num_classes), plus what the official variants need (in_dim, window_size,
layer_scale, layer_scale_conv) and the scan's chunk size.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from mvedge.errors import BadInput
from mvedge.model.scan import DEFAULT_CHUNK_SIZE, MAX_UNROLLED_CHUNK

DEFAULTS: dict[str, Any] = {
    "image_size": 224,
    "in_channels": 3,
    "dim": 80,
    "in_dim": 32,
    "depths": [1, 3, 8, 4],
    "num_heads": [2, 4, 8, 16],
    "window_size": [8, 8, 14, 7],
    "mlp_ratio": 4.0,
    "dropout": 0.0,
    "d_state": 8,
    "d_conv": 3,
    "num_classes": None,
    "layer_scale": None,
    "layer_scale_conv": None,
    "scan_chunk_size": DEFAULT_CHUNK_SIZE,
}
"""Every build option with its default: the MambaVision-T architecture without a classifier head
(num_classes None), so `build()` returns the pooled (batch, 8*dim) features as the reference API does."""

OPTION_NAMES = tuple(DEFAULTS)

OFFICIAL_NUM_CLASSES = 1000
"""Classes of every official checkpoint's head: the 21K variants are pre-trained on ImageNet-21K and
fine-tuned on ImageNet-1K, so they too end in 1000 logits."""

_WIN_224 = [8, 8, 14, 7]
_WIN_512 = [8, 8, 32, 16]
_WIN_256 = [8, 8, 16, 8]

# name -> (dim, in_dim, depths, num_heads, window_size, drop_path_rate, layer_scale, image_size)
_VARIANT_TABLE: dict[str, tuple] = {
    "T": (80, 32, [1, 3, 8, 4], [2, 4, 8, 16], _WIN_224, 0.2, None, 224),
    "T2": (80, 32, [1, 3, 11, 4], [2, 4, 8, 16], _WIN_224, 0.2, None, 224),
    "S": (96, 64, [3, 3, 7, 5], [2, 4, 8, 16], _WIN_224, 0.2, None, 224),
    "B": (128, 64, [3, 3, 10, 5], [2, 4, 8, 16], _WIN_224, 0.3, 1e-5, 224),
    "L": (196, 64, [3, 3, 10, 5], [4, 8, 16, 32], _WIN_224, 0.3, 1e-5, 224),
    "L2": (196, 64, [3, 3, 12, 5], [4, 8, 16, 32], _WIN_224, 0.3, 1e-5, 224),
    "B-21K": (128, 64, [3, 3, 10, 5], [2, 4, 8, 16], _WIN_224, 0.3, 1e-5, 224),
    "L-21K": (196, 64, [3, 3, 10, 5], [4, 8, 16, 32], _WIN_224, 0.3, 1e-5, 224),
    "L2-512-21K": (196, 64, [3, 3, 12, 5], [4, 8, 16, 32], _WIN_512, 0.3, 1e-5, 512),
    "L3-256-21K": (256, 64, [3, 3, 20, 10], [4, 8, 16, 32], _WIN_256, 0.5, 1e-5, 256),
    "L3-512-21K": (256, 64, [3, 3, 20, 10], [4, 8, 16, 32], _WIN_512, 0.5, 1e-5, 512),
}

VARIANTS: tuple[str, ...] = tuple(_VARIANT_TABLE)
"""Names of the official MambaVision variants (NVlabs factories mamba_vision_<name>)."""

_ALIASES = {name.replace("-", "_").upper(): name for name in VARIANTS}


def canonical_variant(name: str) -> str:
    """Normalise a variant name ("t", "B_21k", "mamba_vision_T") to its canonical form ("T", "B-21K")."""
    key = str(name).strip()
    if key.lower().startswith("mamba_vision_"):
        key = key[len("mamba_vision_") :]
    key = key.replace("-", "_").upper()
    if key not in _ALIASES:
        raise BadInput(f"unknown variant {name!r}; choose one of {', '.join(VARIANTS)}")
    return _ALIASES[key]


def config(name: str) -> dict[str, Any]:
    """Build options of an official variant, its 1000-class head included: `build(**config("T"))`
    is MambaVision-T with ImageNet-1K logits."""
    dim, in_dim, depths, heads, window, dpr, layer_scale, size = _VARIANT_TABLE[canonical_variant(name)]
    cfg = copy.deepcopy(DEFAULTS)
    cfg.update(
        image_size=size,
        dim=dim,
        in_dim=in_dim,
        depths=list(depths),
        num_heads=list(heads),
        window_size=list(window),
        dropout=dpr,
        layer_scale=layer_scale,
        num_classes=OFFICIAL_NUM_CLASSES,
    )
    return cfg


def tiny_config() -> dict[str, Any]:
    """The reference API's tiny config: MambaVision-T."""
    return config("T")


def small_config() -> dict[str, Any]:
    """The reference API's small config: MambaVision-S."""
    return config("S")


def base_config() -> dict[str, Any]:
    """The reference API's base config: MambaVision-B."""
    return config("B")


TEST_CONFIGS: dict[str, dict[str, Any]] = {
    # Every block kind (conv, Mamba, attention) at dim 8 and 64 px, ~100K parameters: the level-2
    # scan has 16 tokens in 4 chunks, so the carry between chunks is used.
    "tiny": dict(image_size=64, dim=8, in_dim=8, depths=[1, 1, 2, 2], num_heads=[1, 1, 2, 2], window_size=[8, 8, 4, 2], num_classes=10, scan_chunk_size=4),
    # Every block kind at dim 16 and 64 px, 10 classes: converter, runner and interpreter tests.
    "small": dict(dim=16, in_dim=16, depths=[1, 1, 2, 2], num_heads=[1, 2, 4, 4], window_size=[8, 8, 4, 2], num_classes=10, image_size=64, scan_chunk_size=8),
    # MambaVision-T's structure (depths, heads, windows, 224 px) at dim 16, 10 classes.
    "t-shaped": dict(dim=16, in_dim=16, depths=[1, 3, 8, 4], num_heads=[2, 4, 8, 16], window_size=[8, 8, 14, 7], num_classes=10, image_size=224, scan_chunk_size=7),
}
"""Tiny architectures for tests and benchmarks (as timm's test_* variants): not official variants,
so neither `VARIANTS`, `config()` nor variant detection knows them."""


def test_config(name: str, **overrides: Any) -> dict[str, Any]:
    """Build options of the test architecture `name` with `overrides` applied (e.g. another
    num_classes or image_size); a fresh copy each call."""
    if name not in TEST_CONFIGS:
        raise ValueError(f"unknown test config {name!r}; choose one of {', '.join(TEST_CONFIGS)}")
    return {**copy.deepcopy(TEST_CONFIGS[name]), **copy.deepcopy(overrides)}


test_config.__test__ = False  # a helper, not a test, when a test module imports it


def output_size(cfg: dict[str, Any]) -> int:
    """Width of the model output: num_classes, or 8*dim (pooled features) when num_classes is None."""
    num_classes = cfg.get("num_classes", DEFAULTS["num_classes"])
    return 8 * int(cfg.get("dim", DEFAULTS["dim"])) if num_classes is None else int(num_classes)


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _int_list(cfg: dict[str, Any], key: str, length: int = 4, allow_zero: bool = False) -> list[int]:
    value = cfg[key]
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value] * length
    if not isinstance(value, (list, tuple)) or len(value) != length:
        raise BadInput(f"{key} must be a list of {length} integers, got {value!r}")
    low = 0 if allow_zero else 1
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= low for v in value):
        raise BadInput(f"{key} must hold integers >= {low}, got {value!r}")
    return list(value)


def resolve_config(**options: Any) -> dict[str, Any]:
    """Fill defaults, validate every option and return the complete config.

    Raises ValueError naming the option and why (unknown name, wrong list length, dim not
    divisible by the heads, non-positive sizes, ...).
    """
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise BadInput(f"unknown build option(s) {unknown}; valid options: {', '.join(OPTION_NAMES)}")
    cfg = copy.deepcopy(DEFAULTS)
    cfg.update(copy.deepcopy(options))
    for key in ("image_size", "in_channels", "dim", "in_dim", "d_state", "d_conv"):
        if not _is_positive_int(cfg[key]):
            raise BadInput(f"{key} must be a positive integer, got {cfg[key]!r}")
    if cfg["scan_chunk_size"] is not None and not _is_positive_int(cfg["scan_chunk_size"]):
        raise BadInput(f"scan_chunk_size must be a positive integer or None (by sequence length), got {cfg['scan_chunk_size']!r}")
    if cfg["scan_chunk_size"] is not None and cfg["scan_chunk_size"] > MAX_UNROLLED_CHUNK:
        raise BadInput(
            f"scan_chunk_size must be <= {MAX_UNROLLED_CHUNK} (the model's two-pass scan unrolls each chunk), got {cfg['scan_chunk_size']}"
        )
    if cfg["d_conv"] % 2 != 1:
        raise BadInput(f"d_conv must be odd (the mixer's 1-D conv is centred, 'same' padding), got {cfg['d_conv']}")
    cfg["depths"] = _int_list(cfg, "depths")
    cfg["num_heads"] = _int_list(cfg, "num_heads")
    cfg["window_size"] = _int_list(cfg, "window_size")
    if not isinstance(cfg["mlp_ratio"], (int, float)) or isinstance(cfg["mlp_ratio"], bool) or cfg["mlp_ratio"] <= 0:
        raise BadInput(f"mlp_ratio must be a positive number, got {cfg['mlp_ratio']!r}")
    if int(cfg["dim"] * 8 * cfg["mlp_ratio"]) < 1:
        raise BadInput(f"mlp_ratio {cfg['mlp_ratio']} gives an empty MLP for dim {cfg['dim']}")
    dropout = cfg["dropout"]
    if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0.0 <= dropout < 1.0:
        raise BadInput(f"dropout (the drop-path rate) must be in [0, 1), got {dropout!r}")
    num_classes = cfg["num_classes"]
    if num_classes is not None and not _is_positive_int(num_classes):
        raise BadInput(f"num_classes must be a positive integer or None (pooled features), got {num_classes!r}")
    for key in ("layer_scale", "layer_scale_conv"):
        value = cfg[key]
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0):
            raise BadInput(f"{key} must be a positive number or None, got {value!r}")
    for level in range(4):
        channels = cfg["dim"] * 2**level
        heads = cfg["num_heads"][level]
        if level >= 2 and channels % heads:
            raise BadInput(
                f"num_heads[{level}]={heads} does not divide the level-{level} width {channels} (= dim*{2**level})"
            )
        if level >= 2 and channels % 2:
            raise BadInput(f"the level-{level} width {channels} must be even (the mixer splits it in halves)")
    return cfg


def dt_rank(channels: int) -> int:
    """Rank of the mixer's delta projection: ceil(C / 16) of the block width C (not of C/2)."""
    return math.ceil(channels / 16)
