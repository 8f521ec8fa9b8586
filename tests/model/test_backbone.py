"""The backbone form (out_indices, stage norms, no head), forward_intermediates, and loading NVlabs'
detection/segmentation (mmdet/mmseg) checkpoints as their backbone."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

import mvedge
from mvedge.errors import BadInput
from mvedge.model.bundle import load_bundle
from mvedge.model.checkpoints import (
    CheckpointError,
    IgnoredWeightsWarning,
    load_backbone,
    save_checkpoint,
    split_dense,
)
from mvedge.model.configs import test_config
from mvedge.model.mambavision import LayerNorm2d, MambaVision, MambaVisionBackbone
from mvedge.verify.reference import seeded_model

TINY = test_config("tiny")  # windows [8, 8, 4, 2]


def seeded_backbone(**options) -> MambaVisionBackbone:
    model = seeded_model({**TINY, "out_indices": [0, 1, 2, 3], **options})
    with torch.no_grad():  # stage norms away from the identity, so a skipped or wrong one shows
        for name, param in model.named_parameters():
            if name.startswith("outnorm"):
                param.uniform_(0.5, 1.5)
    return model


def mm_checkpoint(path: Path, backbone: torch.nn.Module, heads: dict[str, int], drop: str | None = None, extra: str | None = None) -> Path:
    """An mmdet/mmseg-style file: {'meta', 'state_dict'} with 'backbone.' weights and head tensors."""
    state = {f"backbone.{k}": v for k, v in backbone.state_dict().items() if k != drop}
    if extra:
        state[f"backbone.{extra}"] = torch.zeros(3)
    for part, count in heads.items():
        for i in range(count):
            state[f"{part}.conv{i}.weight"] = torch.zeros(2, 2)
    torch.save({"meta": {"epoch": 12, "mmseg_version": "1.2.2"}, "state_dict": state}, path)
    return path


def test_build_with_out_indices_gives_the_backbone_with_a_norm_per_stage() -> None:
    model = mvedge.build(TINY, out_indices=(3, 1))
    assert isinstance(model, MambaVisionBackbone) and model.out_indices == (1, 3)
    assert model.config["num_classes"] is None and model.config["out_norm"] == "ln2d"
    assert isinstance(model.outnorm1, LayerNorm2d) and not hasattr(model, "outnorm0")
    assert not any(k.startswith(("head.", "norm.")) for k in model.state_dict())
    outs = model.eval()(torch.randn(2, 3, 72, 104))
    assert [tuple(o.shape) for o in outs] == [(2, 16, 9, 13), (2, 64, 3, 4)]
    bn = mvedge.build("T", out_indices=[2], out_norm="bn", dim=16, num_heads=[1, 2, 4, 8])
    assert isinstance(bn.outnorm2, torch.nn.BatchNorm2d) and bn.config["window_size"] == [8, 8, 14, 7]


@pytest.mark.parametrize(
    "options",
    [{"out_indices": []}, {"out_indices": [4]}, {"out_indices": [1, 1]}, {"out_indices": [0], "out_norm": "ln"}, {"out_norm": "bn"}],
)
def test_invalid_backbone_options_are_refused_naming_the_option(options: dict) -> None:
    with pytest.raises(BadInput, match="out_indices|out_norm"):
        mvedge.build(TINY, **options)


def test_the_classifier_class_refuses_out_indices() -> None:
    with pytest.raises(BadInput, match="out_indices makes a backbone"):
        MambaVision(**TINY, out_indices=[0])


def test_classifier_intermediates_are_the_level_outputs_before_the_downsample() -> None:
    model = seeded_model(TINY)
    x = torch.randn(1, 3, 72, 104)
    seen = {}
    hooks = [level.downsample.register_forward_pre_hook(lambda _m, a, i=i: seen.__setitem__(i, a[0])) for i, level in enumerate(model.levels[:3])]
    hooks.append(model.levels[3].register_forward_hook(lambda _m, _a, o: seen.__setitem__(3, o)))
    with torch.no_grad():
        model(x)
        for hook in hooks:
            hook.remove()
        outs = model.forward_intermediates(x)
        assert [tuple(o.shape) for o in outs] == [(1, 8, 18, 26), (1, 16, 9, 13), (1, 32, 5, 7), (1, 64, 3, 4)]
        for i, out in enumerate(outs):
            assert torch.equal(out, seen[i]), i
        assert torch.equal(model.forward_intermediates(x, [2])[0], seen[2])
    with pytest.raises(ValueError, match="subset of 0..3"):
        model.forward_intermediates(x, [5])


def test_backbone_stage_maps_are_the_normed_level_outputs() -> None:
    backbone = seeded_backbone()
    classifier = seeded_model(TINY)
    shared = {k: v for k, v in backbone.state_dict().items() if not k.startswith("outnorm")}
    classifier.load_state_dict({**classifier.state_dict(), **shared})
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        for i, (got, raw) in enumerate(zip(backbone(x), classifier.forward_intermediates(x))):
            norm = getattr(backbone, f"outnorm{i}")
            expected = torch.nn.functional.layer_norm(raw.permute(0, 2, 3, 1), norm.normalized_shape, norm.weight, norm.bias, 1e-5)
            torch.testing.assert_close(got, expected.permute(0, 3, 1, 2), rtol=0, atol=1e-6)
    with pytest.raises(TypeError, match="forward_intermediates"):
        backbone.forward_features(x)


@pytest.mark.parametrize("out_norm", ["ln2d", "bn"])
def test_a_segmentation_checkpoint_loads_as_its_backbone(out_norm: str, tmp_path: Path) -> None:
    backbone = seeded_backbone(out_indices=[1, 2, 3], out_norm=out_norm)
    path = mm_checkpoint(tmp_path / "upernet.pth", backbone, {"decode_head": 3, "auxiliary_head": 2})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = mvedge.load_checkpoint(path, num_heads=TINY["num_heads"], window_size=TINY["window_size"])
    notes = [str(w.message) for w in caught if w.category is IgnoredWeightsWarning]
    assert len(notes) == 1 and "\n" not in notes[0]
    assert notes[0].endswith("ignored auxiliary_head. (2), decode_head. (3)")
    assert isinstance(model, MambaVisionBackbone) and not model.training
    assert model.config["out_indices"] == [1, 2, 3] and model.config["out_norm"] == out_norm
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        for got, expected in zip(model(x), backbone(x)):
            assert torch.equal(got, expected)


def test_an_official_detection_backbone_gets_its_published_windows() -> None:
    backbone = mvedge.build("T", out_indices=[0, 1, 2, 3])
    state = {f"backbone.{k}": v for k, v in backbone.state_dict().items()}
    state["roi_head.bbox_head.0.fc_cls.weight"] = torch.zeros(81, 8)
    with pytest.warns(IgnoredWeightsWarning, match=r"ignored roi_head\. \(1\)"):
        model = load_backbone(split_dense(state), "cascade_mask_rcnn_mamba_vision_tiny_3x_coco.pth")
    assert model.variant == "T" and model.config["window_size"] == [8, 8, 112, 56]
    state["decode_head.conv_seg.weight"] = state.pop("roi_head.bbox_head.0.fc_cls.weight")
    with pytest.warns(IgnoredWeightsWarning):
        assert load_backbone(split_dense(state), "upernet").config["window_size"] == [8, 8, 64, 32]
    del state["decode_head.conv_seg.weight"]
    with pytest.raises(CheckpointError, match=r"window sizes .* not in its weights; pass window_size"):
        load_backbone(split_dense(state), "backbone-only.pth")


def test_a_missing_backbone_key_is_named(tmp_path: Path) -> None:
    backbone = seeded_backbone()
    path = mm_checkpoint(tmp_path / "det.pth", backbone, {"neck": 1}, drop="levels.2.blocks.1.mixer.qkv.weight")
    with pytest.raises(CheckpointError, match=r"missing: backbone\.levels\.2\.blocks\.1\.mixer\.qkv\.weight") as info:
        mvedge.load_checkpoint(path, num_heads=TINY["num_heads"], window_size=TINY["window_size"])
    assert "\n" not in str(info.value)
    path = mm_checkpoint(tmp_path / "stem.pth", backbone, {"neck": 1}, drop="patch_embed.conv_down.0.weight")
    with pytest.raises(CheckpointError, match=r"no 'backbone\.patch_embed\.conv_down\.0\.weight'"):
        mvedge.load_checkpoint(path, num_heads=TINY["num_heads"], window_size=TINY["window_size"])
    path = mm_checkpoint(tmp_path / "extra.pth", backbone, {"neck": 1}, extra="levels.0.blocks.0.scale")
    with pytest.raises(CheckpointError, match=r"unexpected: backbone\.levels\.0\.blocks\.0\.scale"):
        mvedge.load_checkpoint(path, num_heads=TINY["num_heads"], window_size=TINY["window_size"])


def test_a_checkpoint_of_heads_only_is_refused(tmp_path: Path) -> None:
    torch.save({"state_dict": {"neck.conv.weight": torch.zeros(2), "decode_head.conv_seg.weight": torch.zeros(2)}}, tmp_path / "heads.pth")
    with pytest.raises(CheckpointError, match=r"\(neck\., decode_head\.\) but no 'backbone\.' weights"):
        mvedge.load_checkpoint(tmp_path / "heads.pth")


def test_a_custom_backbone_needs_its_heads_and_windows(tmp_path: Path) -> None:
    path = mm_checkpoint(tmp_path / "det.pth", seeded_backbone(), {"rpn_head": 1})
    with pytest.raises(CheckpointError, match="pass num_heads and window_size"):
        mvedge.load_checkpoint(path)


def test_a_saved_backbone_loads_back_as_a_backbone(tmp_path: Path) -> None:
    backbone = seeded_backbone(out_indices=[0, 3], out_norm="bn")
    save_checkpoint(backbone, tmp_path / "b.safetensors")
    model = mvedge.load_checkpoint(tmp_path / "b.safetensors")
    assert isinstance(model, MambaVisionBackbone) and model.config == backbone.config
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(model(x), backbone(x)))


def test_commands_refuse_a_backbone_and_a_new_head_is_refused(tmp_path: Path) -> None:
    path = mm_checkpoint(tmp_path / "det.pth", seeded_backbone(), {"roi_head": 1})
    save_checkpoint(seeded_backbone(), tmp_path / "b.safetensors")
    with pytest.raises(BadInput, match="detection/segmentation backbone without a classifier head"):
        load_bundle(str(tmp_path / "b.safetensors"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IgnoredWeightsWarning)
        with pytest.raises(CheckpointError, match="drop num_classes"):
            mvedge.load_checkpoint(path, num_classes=5, num_heads=TINY["num_heads"], window_size=TINY["window_size"])


def test_an_mmengine_training_log_in_the_checkpoint_is_read_inert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """mmengine pickles its message hub (history buffers holding numpy arrays) beside the weights:
    the file loads with weights_only, those objects as inert stand-ins, their code never imported."""
    import sys
    import types

    import numpy as np

    module = types.ModuleType("mmengine.logging.history_buffer")

    class HistoryBuffer:
        def __init__(self) -> None:
            self.values = np.ones(3)

        def __setstate__(self, state: dict) -> None:
            raise AssertionError("mmengine's code must not run")

    HistoryBuffer.__module__, HistoryBuffer.__qualname__ = module.__name__, "HistoryBuffer"
    module.HistoryBuffer = HistoryBuffer
    for name in ("mmengine", "mmengine.logging"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    backbone = seeded_backbone()
    state = {f"backbone.{k}": v for k, v in backbone.state_dict().items()}
    torch.save({"message_hub": {"log_scalars": {"loss": HistoryBuffer()}}, "state_dict": {**state, "neck.w": torch.zeros(1)}}, tmp_path / "train.pth")
    monkeypatch.delitem(sys.modules, module.__name__)
    with pytest.warns(IgnoredWeightsWarning):
        model = mvedge.load_checkpoint(tmp_path / "train.pth", num_heads=TINY["num_heads"], window_size=TINY["window_size"])
    assert isinstance(model, MambaVisionBackbone)
    torch.save({"state_dict": state, "extra": Path("x")}, tmp_path / "other.pth")  # any other object: refused as before
    with pytest.raises(CheckpointError, match="holds an object other than weights"):
        mvedge.load_checkpoint(tmp_path / "other.pth")
