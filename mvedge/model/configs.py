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

OUT_NORMS = ("ln2d", "bn")
"""Norms of a backbone's stage maps, as NVlabs' detection/segmentation backbone names them: a
LayerNorm over the channels of each pixel ("ln2d", theirs by default) or a BatchNorm2d ("bn")."""

BACKBONE_DEFAULTS: dict[str, Any] = {"out_indices": None, "out_norm": "ln2d"}
"""Options of the backbone form (NVlabs' detection/segmentation backbone): `out_indices`, the
levels whose stage maps it outputs (None: the classifier), and `out_norm`, one of OUT_NORMS. A
backbone's config holds both; a classifier's holds neither."""

OPTION_NAMES = tuple(DEFAULTS) + tuple(BACKBONE_DEFAULTS)

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
    """Normalise a variant name to its canonical form: "t", "B_21k", "mamba_vision_T" and the
    Hugging Face spellings "MambaVision-T-1K", "mambavision_t" give "T" and "B-21K"."""
    key = str(name).strip()
    for prefix in ("mamba_vision_", "mambavision-", "mambavision_"):
        if key.lower().startswith(prefix):
            key = key[len(prefix) :]
            break
    key = key.replace("-", "_").upper()
    if key.endswith("_1K"):  # the ImageNet-1K models' repository names; 21K ones keep their suffix
        key = key[: -len("_1K")]
    if key not in _ALIASES:
        hint = "; a Hugging Face repository goes to --weights (weights=...)" if "/" in str(name) else ""
        raise BadInput(f"unknown variant {name!r}; choose one of {', '.join(VARIANTS)} (or MambaVision-T-1K, ...){hint}")
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
    options = copy.deepcopy(options)
    backbone = _backbone_options(options.pop("out_indices", None), options.pop("out_norm", None))
    cfg = copy.deepcopy(DEFAULTS)
    cfg.update(options)
    if backbone:
        cfg.update(backbone, num_classes=None)  # the backbone drops the classifier head
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


def _backbone_options(out_indices: Any, out_norm: Any) -> dict[str, Any]:
    """Validated backbone options ({} for a classifier): sorted distinct levels 0..3, a known norm."""
    if out_indices is None:
        if out_norm is not None:
            raise BadInput(f"out_norm={out_norm!r} applies to a backbone only; pass out_indices too (e.g. out_indices=(0, 1, 2, 3))")
        return {}
    if isinstance(out_indices, int) and not isinstance(out_indices, bool):
        out_indices = [out_indices]
    if (
        not isinstance(out_indices, (list, tuple))
        or not out_indices
        or not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i <= 3 for i in out_indices)
        or len(set(out_indices)) != len(out_indices)
    ):
        raise BadInput(f"out_indices must be distinct levels among 0, 1, 2, 3 (e.g. (0, 1, 2, 3)), got {out_indices!r}")
    norm = BACKBONE_DEFAULTS["out_norm"] if out_norm is None else out_norm
    if norm not in OUT_NORMS:
        raise BadInput(f"out_norm must be one of {', '.join(OUT_NORMS)}, got {out_norm!r}")
    return {"out_indices": sorted(out_indices), "out_norm": norm}


def dt_rank(channels: int) -> int:
    """Rank of the mixer's delta projection: ceil(C / 16) of the block width C (not of C/2)."""
    return math.ceil(channels / 16)
