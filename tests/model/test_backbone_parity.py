"""Parity of the backbone form with NVlabs' detection/segmentation backbone (MM_mamba_vision).

The goldens were made by scripts/make_goldens.py from that class, run on CPU with seeded random
weights, at 64x64 and at 72x104 (non-square, zero-padded to the windows of levels 2 and 3), with
a LayerNorm2d and a BatchNorm2d stage norm. The official code is not needed here.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from safetensors.torch import load_file

import mvedge
from mvedge.model.checkpoints import IgnoredWeightsWarning, load_state_dict_strict

from tests.conftest import GOLDENS

CASES = ("backbone_ln2d", "backbone_bn")
SIZES = ("64x64", "72x104")
TOLERANCE = 1e-4  # max abs error, fp32


def build_options(official: dict) -> dict:
    """MM_mamba_vision kwargs -> mvedge build options."""
    keys = ("dim", "in_dim", "depths", "num_heads", "window_size", "mlp_ratio", "layer_scale", "out_indices")
    return {**{k: official[k] for k in keys}, "out_norm": official["norm_layer"]}


def golden(name: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    data = load_file(str(GOLDENS / f"{name}.safetensors"))
    state = {k.split("/", 1)[1]: v for k, v in data.items() if k.startswith("state_dict/")}
    return state, data


def max_errors(model: torch.nn.Module, data: dict, size: str, indices: list[int]) -> dict[int, float]:
    with torch.no_grad():
        outs = model.forward_intermediates(data[f"{size}/input"].float())
    assert len(outs) == len(indices)
    errors = {}
    for level, out in zip(indices, outs):
        expected = data[f"{size}/stage.{level}"]
        assert out.shape == expected.shape, (level, out.shape, expected.shape)
        errors[level] = float((out - expected).abs().max())
    return errors


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("size", SIZES)
def test_stage_maps_match_the_official_backbone(name: str, size: str, golden_index: dict) -> None:
    official = golden_index["backbones"][name]["official_kwargs"]
    state, data = golden(name)
    model = mvedge.build(**build_options(official))
    load_state_dict_strict(model, state)
    errors = max_errors(model.eval(), data, size, official["out_indices"])
    assert max(errors.values()) <= TOLERANCE, f"{name} {size}: max abs error per stage {errors}"


@pytest.mark.parametrize("name", CASES)
def test_a_detection_checkpoint_of_the_goldens_loads_and_matches(name: str, golden_index: dict, tmp_path) -> None:
    """The same weights as an mmdet checkpoint (state_dict, backbone. prefix, neck and heads) through load_checkpoint."""
    official = golden_index["backbones"][name]["official_kwargs"]
    state, data = golden(name)
    checkpoint = {f"backbone.{k}": v for k, v in state.items()}
    checkpoint.update({"neck.lateral_convs.0.conv.weight": torch.zeros(4, 8, 1, 1), "roi_head.bbox_head.0.fc_cls.weight": torch.zeros(81, 4)})
    path = tmp_path / f"{name}.pth"
    torch.save({"meta": {"epoch": 36}, "state_dict": checkpoint}, path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = mvedge.load_checkpoint(path, num_heads=official["num_heads"], window_size=official["window_size"])
    assert [str(w.message) for w in caught if w.category is IgnoredWeightsWarning][0].endswith("ignored neck. (1), roi_head. (1)")
    assert model.config["out_indices"] == official["out_indices"] and model.config["out_norm"] == official["norm_layer"]
    errors = max_errors(model, data, "72x104", official["out_indices"])
    assert max(errors.values()) <= TOLERANCE, errors


def test_the_goldens_catch_a_missing_stage_norm(golden_index: dict) -> None:
    """The parity test can fail: the raw level outputs (no outnorm) are far from the goldens."""
    official = golden_index["backbones"]["backbone_ln2d"]["official_kwargs"]
    state, data = golden("backbone_ln2d")
    model = mvedge.build(**build_options(official))
    load_state_dict_strict(model, state)
    for level in official["out_indices"]:
        setattr(model, f"outnorm{level}", torch.nn.Identity())
    errors = max_errors(model.eval(), data, "72x104", official["out_indices"])
    assert min(errors.values()) > 100 * TOLERANCE, errors


def test_the_goldens_catch_other_window_padding(golden_index: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Replicate instead of zero padding to the windows changes the padded size's deep stages."""
    import torch.nn.functional as F

    from mvedge.model import mambavision

    official = golden_index["backbones"]["backbone_ln2d"]["official_kwargs"]
    state, data = golden("backbone_ln2d")
    model = mvedge.build(**build_options(official))
    load_state_dict_strict(model, state)
    real_pad = F.pad
    monkeypatch.setattr(mambavision.F, "pad", lambda x, pad, *a, **k: real_pad(x, pad, mode="replicate") if x.ndim == 4 else real_pad(x, pad, *a, **k))
    errors = max_errors(model.eval(), data, "72x104", official["out_indices"])
    assert errors[2] > 100 * TOLERANCE and errors[3] > 100 * TOLERANCE, errors
