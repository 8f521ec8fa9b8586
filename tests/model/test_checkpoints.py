"""Checkpoint loading: every supported format, strictness, safety and variant detection."""

from __future__ import annotations

import argparse
import collections
import json
import pickle
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import mvedge
import mvedge.model.checkpoints
from mvedge.model import CheckpointError, detect_variant, read_state_dict
from mvedge.model.configs import DEFAULTS, test_config
from mvedge.verify.reference import seeded_model

# custom weights load with the default scan chunk size, so the saved model has it too (exact comparisons)
SMALL = test_config("tiny", scan_chunk_size=DEFAULTS["scan_chunk_size"])
ARCH = dict(num_heads=SMALL["num_heads"], window_size=SMALL["window_size"])


@pytest.fixture(scope="module")
def small_model() -> torch.nn.Module:
    return seeded_model(SMALL)  # non-trivial BN statistics so a mix-up would show


def same_output(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return torch.equal(a(x), b(x))


def test_nvlabs_pth_tar_with_args_and_module_prefix(tmp_path: Path, small_model) -> None:
    path = tmp_path / "mambavision_custom.pth.tar"
    torch.save(
        {
            "state_dict": {f"module.{k}": v for k, v in small_model.state_dict().items()},
            "args": argparse.Namespace(model="mamba_vision_T", lr=5e-3),
            "epoch": 309,
            "metric": 82.3,
            "optimizer": {"state": {}, "param_groups": [{"lr": 0.005}]},
        },
        path,
    )
    loaded = mvedge.load_checkpoint(path, **ARCH)
    assert not loaded.training
    assert same_output(loaded, small_model)


def test_huggingface_safetensors_with_model_prefix(tmp_path: Path, small_model) -> None:
    path = tmp_path / "model.safetensors"
    save_file({f"model.{k}": v.contiguous() for k, v in small_model.state_dict().items()}, str(path))
    assert same_output(mvedge.load_checkpoint(path, **ARCH), small_model)


def test_plain_state_dict_pt_without_bn_counters(tmp_path: Path, small_model) -> None:
    path = tmp_path / "weights.pt"
    torch.save({k: v for k, v in small_model.state_dict().items() if not k.endswith("num_batches_tracked")}, path)
    assert same_output(mvedge.load_checkpoint(path, **ARCH), small_model)


def test_official_variant_detected_from_weights(tmp_path: Path) -> None:
    torch.manual_seed(0)
    reference = mvedge.build(**mvedge.config("T")).eval()
    path = tmp_path / "mambavision_tiny_1k.pth.tar"
    torch.save({"state_dict": reference.state_dict()}, path)
    loaded = mvedge.load_checkpoint(path)
    assert loaded.variant == "T"
    assert loaded.config == reference.config
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), reference(x), rtol=0, atol=0)


def meta_state(name: str) -> dict[str, torch.Tensor]:
    with torch.device("meta"):
        return mvedge.build(**mvedge.config(name)).state_dict()


@pytest.mark.parametrize("name,expected", [("T", "T"), ("T2", "T2"), ("S", "S"), ("B", "B"), ("B-21K", "B"), ("L", "L")])
def test_detect_variant_by_shapes(name: str, expected: str) -> None:
    assert detect_variant(meta_state(name)) == expected


def test_detect_variant_needs_a_hint_for_same_weights_other_windows() -> None:
    state = meta_state("L2")
    with pytest.raises(CheckpointError, match="name the variant"):
        detect_variant(state, "weights.pth")
    assert detect_variant(state, "mambavision_L2_21k_240m_512.pth.tar") == "L2-512-21K"
    assert detect_variant(meta_state("L3-256-21K"), "mambavision_L3_21k_740m_256.pth.tar") == "L3-256-21K"


def test_custom_weights_need_heads_and_windows(tmp_path: Path, small_model) -> None:
    path = tmp_path / "w.pt"
    torch.save(small_model.state_dict(), path)
    with pytest.raises(CheckpointError, match="pass num_heads and window_size"):
        mvedge.load_checkpoint(path)


def test_missing_unexpected_and_misshaped_keys_are_listed(tmp_path: Path, small_model) -> None:
    state = dict(small_model.state_dict())
    del state["levels.2.blocks.0.mixer.A_log"]
    state["levels.2.blocks.0.mixer.extra"] = torch.zeros(3)
    state["head.bias"] = torch.zeros(9)
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError) as info:
        mvedge.load_checkpoint(path, **ARCH)
    message = str(info.value)
    assert "missing: levels.2.blocks.0.mixer.A_log" in message
    assert "unexpected: levels.2.blocks.0.mixer.extra" in message
    assert "mis-shaped: head.bias (9,) != (10,)" in message
    assert "\n" not in message


class NotAWeight:
    """A class a malicious or careless checkpoint might pickle."""

    def __reduce__(self):
        return (collections.OrderedDict, ())


def test_arbitrary_pickled_objects_are_refused(tmp_path: Path, small_model) -> None:
    path = tmp_path / "unsafe.pth"
    torch.save({"state_dict": small_model.state_dict(), "callable": print}, path)
    with pytest.raises(CheckpointError, match=r"holds an object other than weights \(print\).*never unpickled"):
        read_state_dict(path)
    with open(path, "wb") as handle:  # a plain pickle, tensors and all
        pickle.dump({"state_dict": small_model.state_dict(), "extra": NotAWeight()}, handle, protocol=2)
    with pytest.raises(CheckpointError, match="holds an object other than weights"):
        read_state_dict(path)


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable PyTorch"):
        read_state_dict(garbage)
    bad_st = tmp_path / "garbage.safetensors"
    bad_st.write_bytes(b"12345678garbage")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        read_state_dict(bad_st)
    with pytest.raises(CheckpointError, match="does not exist"):
        read_state_dict(tmp_path / "nope.pth")


def test_not_a_mambavision_state_dict(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(CheckpointError, match="not a MambaVision state dict"):
        mvedge.load_checkpoint(path)


def test_overrides_apply(tmp_path: Path, small_model) -> None:
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in small_model.state_dict().items()}, str(path))
    loaded = mvedge.load_checkpoint(path, scan_chunk_size=3, **ARCH)
    assert loaded.config["scan_chunk_size"] == 3
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), small_model(x), rtol=1e-5, atol=1e-5)


def test_class_count_comes_from_the_head_weights(tmp_path: Path) -> None:
    """build() defaults to no head, but loading still reads the class count from the weights:
    an official variant's headless weights give features, a custom config saved without
    num_classes gets the head its weights have."""
    with torch.device("meta"):
        headless = {k: v for k, v in mvedge.build(**mvedge.config("T")).state_dict().items() if not k.startswith("head.")}
    state = {k: torch.zeros(v.shape, dtype=v.dtype) for k, v in headless.items()}
    path = tmp_path / "tiny_features.pt"
    torch.save(state, path)
    assert mvedge.load_checkpoint(path, variant="T").num_classes is None

    torch.manual_seed(0)
    model = mvedge.build(**{**SMALL, "num_classes": 1000}).eval()
    config = {k: v for k, v in model.config.items() if k != "num_classes"}
    path = tmp_path / "no_class_count.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path), metadata={"mvedge_config": json.dumps(config)})
    loaded = mvedge.load_checkpoint(path)
    assert loaded.num_classes == 1000 and same_output(loaded, model)


def test_num_classes_keeps_the_backbone_and_gives_a_new_untrained_head(tmp_path: Path, small_model) -> None:
    """Another class count than the checkpoint's: the backbone's weights and statistics as saved, a
    head of the new shape from a fixed seed (the same on every load), and a warning saying it is
    untrained. The checkpoint's own count, or none given, loads as before without a warning."""
    path = tmp_path / "small.safetensors"
    mvedge.model.checkpoints.save_checkpoint(small_model, path)
    with pytest.warns(mvedge.model.checkpoints.UntrainedHeadWarning, match="new 3-class head, freshly initialised and untrained"):
        model = mvedge.load_checkpoint(path, num_classes=3)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(model.forward_features(x), small_model.forward_features(x))
        assert model(x).shape == (2, 3) and model.num_classes == 3 and model.config["num_classes"] == 3
    assert model.head.weight.std() > 0 and torch.count_nonzero(model.head.bias) == 0
    with pytest.warns(mvedge.model.checkpoints.UntrainedHeadWarning):
        again = mvedge.load_checkpoint(path, num_classes=3)
    assert same_output(model, again)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert same_output(mvedge.load_checkpoint(path, num_classes=10), small_model)
        assert same_output(mvedge.load_checkpoint(path), small_model)
        features = mvedge.load_checkpoint(path, num_classes=None)  # no head: the pooled features
    assert features.num_classes is None and features(x).shape == (2, 8 * SMALL["dim"])


def test_a_new_head_needs_a_sound_class_count(tmp_path: Path, small_model) -> None:
    path = tmp_path / "small.safetensors"
    mvedge.model.checkpoints.save_checkpoint(small_model, path)
    with pytest.raises(CheckpointError, match="num_classes must be a positive integer"):
        mvedge.load_checkpoint(path, num_classes=0)


def test_a_misshaped_head_in_the_file_is_still_an_error(tmp_path: Path, small_model) -> None:
    """Only the caller's num_classes gives a new head; a checkpoint whose own head is broken is refused."""
    state = dict(small_model.state_dict())
    state["head.bias"] = torch.zeros(9)
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=r"mis-shaped: head.bias \(9,\) != \(10,\)"):
        mvedge.load_checkpoint(path, num_classes=3, **ARCH)
