"""Load official MambaVision checkpoints safely and strictly.

Formats: NVlabs `.pth.tar` (weights under 'state_dict', 'module.' prefixes), their mmdet/mmseg
detection and segmentation checkpoints (the 'backbone.' weights, as the backbone form), Hugging Face
`nvidia/MambaVision-*` safetensors (keys prefixed 'model.'; by file or by repository id), and plain
state dicts (.pt, .pth, .safetensors). Pickle files are read with `torch.load(weights_only=True)`
and a minimal allow-list (plus inert stand-ins for an mm training log); nothing else is ever unpickled.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor

from mvedge.atomic import atomic_file
from mvedge.errors import BadInput
from mvedge.model import hub
from mvedge.model.configs import VARIANTS, canonical_variant, config, resolve_config
from mvedge.model.mambavision import MambaVision, MambaVisionBackbone, build

SAFE_GLOBALS = [argparse.Namespace]
"""Types allowed when unpickling a checkpoint: the `args` namespace timm's CheckpointSaver stores."""

_PREFIXES = ("module.", "model.", "encoder.")


class CheckpointError(BadInput):
    """A checkpoint cannot be read or does not match the model; the message says what and how to fix it."""


EXPECTED_TORCH = "weights written by torch.save (a .pth.tar, .pth or .pt file) or a .safetensors file"
EXPECTED_SAFETENSORS = "a safetensors file (an 8-byte header length, a JSON header, then the tensors)"


def _what_file(path: Path) -> str | None:
    """What a file that is plainly no checkpoint is ('an empty file', 'a text file starting ...'),
    for the error message; None when it looks like binary data (the reader's own error says more)."""
    with open(path, "rb") as handle:
        head = handle.read(512)
    if not head:
        return "an empty file"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\r\n\t" for c in text):
        first = text.strip().splitlines()[0][:40] if text.strip() else ""
        return f"a text file of {path.stat().st_size} bytes starting {first!r}"
    return None


def read_state_dict(path: str | os.PathLike) -> dict[str, Tensor]:
    """Read the raw weights of a checkpoint file (any supported format) without building a model."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist or is not a file; pass the path of a .pth.tar, .pth, .pt or .safetensors file")
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError as exc:  # pragma: no cover - safetensors is a core dependency
            raise CheckpointError("reading .safetensors needs the safetensors package: pip install safetensors") from exc
        try:
            raw: Any = load_file(str(path), device="cpu")
        except Exception as exc:
            what = _what_file(path)
            detail = f": it is {what}" if what else f" ({exc})"
            raise CheckpointError(f"checkpoint {str(path)!r} is not a readable safetensors file{detail}; expected {EXPECTED_SAFETENSORS}") from exc
    else:
        try:
            with torch.serialization.safe_globals(SAFE_GLOBALS + _inert_training_state(path)):
                raw = torch.load(str(path), map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
            if found:
                raise CheckpointError(
                    f"checkpoint {str(path)!r} holds an object other than weights ({found.group(1)}), and objects are "
                    "never unpickled; re-save it as a plain state dict (torch.save(model.state_dict(), ...)) or as .safetensors"
                ) from exc
            raise CheckpointError(
                f"checkpoint {str(path)!r} is not a readable PyTorch weights file (torch.load with weights_only failed); "
                "pass a .pth.tar, .pth, .pt or .safetensors checkpoint"
            ) from exc
        except Exception as exc:
            what = _what_file(path)
            detail = f": it is {what}" if what else f" ({type(exc).__name__}: {exc})"
            raise CheckpointError(f"checkpoint {str(path)!r} is not a readable PyTorch file{detail}; expected {EXPECTED_TORCH}") from exc
    return extract_state_dict(raw, str(path))


TRAINING_STATE_MODULES = ("mmengine.", "mmdet.", "mmseg.", "mmcv.")
"""Packages whose objects an mmdet/mmseg training checkpoint pickles beside its weights (the
training log's history buffers, with numpy arrays): read as inert stand-ins, never imported."""


class _Inert:
    """Stand-in for an object of a training checkpoint's log: takes any arguments and state, keeps none."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass


def _inert_training_state(path: Path) -> list[tuple[type, str]]:
    """Inert stand-ins for the mm* (and numpy) classes an mmdet/mmseg checkpoint pickles outside
    its weights, so that `weights_only` loading reads it; none when any other object is pickled
    (that file is then refused as before)."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:
        return []  # not a zip checkpoint: torch.load reports it
    names = [n for n in names if n not in {f"{g.__module__}.{g.__qualname__}" for g in SAFE_GLOBALS}]
    if not any(n.startswith(TRAINING_STATE_MODULES) for n in names):
        return []
    if not all(n.startswith(TRAINING_STATE_MODULES + ("numpy.",)) for n in names):
        return []
    return [(_Inert, name) for name in names]


def read_safetensors_metadata(path: str | os.PathLike | None) -> dict[str, str] | None:
    """The string metadata of a .safetensors file, or None for any other or unreadable file."""
    if path is None or Path(path).suffix != ".safetensors" or not Path(path).is_file():
        return None
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            return handle.metadata() or {}
    except Exception:
        return None


def read_embedded_config(path: str | os.PathLike) -> dict[str, Any] | None:
    """Build options stored in a .safetensors file's metadata by mvedge (key 'mvedge_config', plus
    'mvedge_variant' as '__variant__' when the model is an official variant), if any."""
    metadata = read_safetensors_metadata(path)
    if metadata is None or "mvedge_config" not in metadata:
        return None
    try:
        options = json.loads(metadata["mvedge_config"])
        if metadata.get("mvedge_variant"):
            options["__variant__"] = metadata["mvedge_variant"]
        return options
    except ValueError as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} has an unreadable mvedge_config metadata entry ({exc})") from exc


def save_checkpoint(model: MambaVision, path: str | os.PathLike, extra_metadata: dict[str, str] | None = None) -> None:
    """Write weights as .safetensors with the build options in its metadata, so
    `load_checkpoint` rebuilds any architecture, custom ones included; `extra_metadata` adds
    string entries (e.g. mvedge.quant's QAT record)."""
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    metadata = {**(extra_metadata or {}), "mvedge_config": json.dumps(model.config)}
    if getattr(model, "variant", None):
        metadata["mvedge_variant"] = model.variant
    save_file(state, str(path), metadata=metadata)


def save_checkpoint_atomic(model: MambaVision, path: str | os.PathLike, extra_metadata: dict[str, str] | None = None) -> None:
    """`save_checkpoint` to a temporary file beside `path`, renamed into place: a failed write
    leaves nothing partial."""
    with atomic_file(path, ".safetensors") as tmp:
        save_checkpoint(model, tmp, extra_metadata)


def extract_state_dict(raw: Any, source: str = "checkpoint") -> dict[str, Tensor]:
    """Take the weights out of a loaded checkpoint object ('state_dict', else 'model', else itself)
    and strip 'module.' / 'model.' / 'encoder.' prefixes shared by every key."""
    if isinstance(raw, Mapping):
        for key in ("state_dict", "model"):
            if key in raw and isinstance(raw[key], Mapping):
                raw = raw[key]
                break
    if not isinstance(raw, Mapping) or not raw:
        raise CheckpointError(f"{source} holds no state dict (expected a mapping of parameter names to tensors)")
    tensors = {k: v for k, v in raw.items() if isinstance(v, Tensor)}
    if not tensors:
        raise CheckpointError(f"{source} holds no tensors")
    state = dict(tensors)
    stripped = True
    while stripped:
        stripped = False
        for prefix in _PREFIXES:
            if all(k.startswith(prefix) for k in state):
                state = {k[len(prefix) :]: v for k, v in state.items()}
                stripped = True
    return state


def infer_config(state: Mapping[str, Tensor]) -> dict[str, Any]:
    """Architecture options readable from the weights alone (not num_heads or window_size)."""
    try:
        stem = state["patch_embed.conv_down.0.weight"]
        dim = int(state["patch_embed.conv_down.3.weight"].shape[0])
    except KeyError as exc:
        raise CheckpointError(f"not a MambaVision state dict: key {exc.args[0]!r} is missing") from exc
    depths = []
    for level in range(4):
        prefix = f"levels.{level}.blocks."
        indices = {int(k[len(prefix) :].split(".")[0]) for k in state if k.startswith(prefix)}
        depths.append(max(indices) + 1 if indices else 0)
    head = state.get("head.weight")
    fc1 = state.get("levels.2.blocks.0.mlp.fc1.weight")
    mixer = state.get("levels.2.blocks.0.mixer.A_log")
    return {
        "in_channels": int(stem.shape[1]),
        "in_dim": int(stem.shape[0]),
        "dim": dim,
        "depths": depths,
        "num_classes": int(head.shape[0]) if head is not None else None,
        "mlp_ratio": float(fc1.shape[0] / fc1.shape[1]) if fc1 is not None else 4.0,
        "d_state": int(mixer.shape[1]) if mixer is not None else 8,
        "layer_scale": 1e-5 if any(".gamma_1" in k for k in state) else None,
        "layer_scale_conv": 1e-5 if any(k.startswith("levels.0.") and k.endswith(".gamma") for k in state) else None,
    }


_ARCH_KEYS = ("in_channels", "in_dim", "dim", "depths", "mlp_ratio", "d_state", "layer_scale", "layer_scale_conv")


def detect_variant(state: Mapping[str, Tensor], filename: str = "") -> str | None:
    """The official variant whose architecture the weights have, or None for a custom model.

    Variants with identical weights but different windows/resolution (L2 vs L2-512-21K, L3-256 vs
    L3-512) are told apart by '512'/'256' in the file name; otherwise a CheckpointError asks for
    the variant by name. Variants that differ only in training data (B vs B-21K) build the same
    model; the 1K name is returned.
    """
    inferred = infer_config(state)
    matches = [
        name
        for name in VARIANTS
        if all(
            inferred[key] == (list(config(name)[key]) if key == "depths" else config(name)[key]) for key in _ARCH_KEYS
        )
    ]
    if not matches:
        return None
    distinct = {}
    for name in matches:  # first name per distinct build config
        cfg = config(name)
        distinct.setdefault((tuple(cfg["window_size"]), cfg["image_size"]), name)
    if len(distinct) == 1:
        return matches[0]
    lowered = Path(filename).name.lower()
    hinted = [name for name in distinct.values() if str(config(name)["image_size"]) in lowered]
    if len(hinted) == 1:
        return hinted[0]
    raise CheckpointError(
        f"the weights fit several variants with different window sizes ({', '.join(distinct.values())}); "
        "name the variant (variant=... or --variant)"
    )


def _check_keys(model: MambaVision, state: Mapping[str, Tensor], prefix: str = "") -> None:
    expected = model.state_dict()
    missing = [prefix + k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [prefix + k for k in state if k not in expected]
    misshaped = [
        f"{prefix}{k} {tuple(state[k].shape)} != {tuple(expected[k].shape)}"
        for k in expected
        if k in state and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    problems = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
        if items:
            shown = ", ".join(items[:8]) + (f", ... ({len(items)} in all)" if len(items) > 8 else "")
            problems.append(f"{label}: {shown}")
    if problems:
        raise CheckpointError(
            "checkpoint does not match the model (" + "; ".join(problems) + "); "
            "check the variant or pass the architecture options (dim, depths, num_heads, ...)"
        )


def load_state_dict_strict(model: MambaVision, state: Mapping[str, Tensor], prefix: str = "") -> MambaVision:
    """Load weights strictly (missing/unexpected/mis-shaped keys -> one CheckpointError listing them,
    named with `prefix` as the file has them). Only BatchNorm's num_batches_tracked counters may be absent."""
    _check_keys(model, state, prefix)
    full = dict(model.state_dict())
    full.update({k: v.to(full[k].dtype) for k, v in state.items()})
    model.load_state_dict(full, strict=True)
    return model


_KEEP = object()  # num_classes not given: the checkpoint's head

HEAD_SEED = 0
"""Seed of a new head's initialisation (trunc-normal 0.02 weights, zero bias, as in training)."""


class UntrainedHeadWarning(UserWarning):
    """A model's classifier head is freshly initialised, not trained (`num_classes` differs from the checkpoint's)."""


@dataclass
class CheckpointFile:
    """Where a checkpoint's weights are: a local file (`path`), named `label` in reports and
    sidecars (the path, or a Hub repository at its commit), with the repository's config.json."""

    path: Path
    label: str
    hub_config: dict[str, Any] | None = None
    repo_id: str = ""


def locate_checkpoint(weights: str | os.PathLike) -> CheckpointFile:
    """A local checkpoint file as it is, or a Hugging Face repository id (`nvidia/MambaVision-T-1K`,
    optionally `@revision`) downloaded into the Hugging Face cache (see mvedge.model.hub)."""
    if hub.is_repo_id(weights):
        fetched = hub.download(str(weights))
        return CheckpointFile(fetched.weights, fetched.label, fetched.config, fetched.repo_id)
    return CheckpointFile(Path(weights), str(weights))


def load_checkpoint(path: str | os.PathLike, variant: str | None = None, **overrides: Any) -> MambaVision:
    """Build the model a checkpoint describes, load its weights strictly, return it in eval mode.

    `path`: a checkpoint file, or a Hugging Face repository id (`"nvidia/MambaVision-T-1K"`,
    optionally `@revision`), fetched into the Hugging Face cache. `variant` names the official
    architecture; without it the variant is read from the repository's config.json or detected
    from the weights. `overrides` are build options that replace the variant's (e.g.
    scan_chunk_size), or describe a custom architecture (num_heads, window_size are not in the
    weights and must then be given). `num_classes` other than the checkpoint's keeps the backbone
    and gives a new, freshly initialised head (an UntrainedHeadWarning says so); None drops the head.
    """
    source = locate_checkpoint(path)
    num_classes = overrides.pop("num_classes", _KEEP)
    model = load_checkpoint_file(source, variant, **overrides)
    if isinstance(model, MambaVisionBackbone) and num_classes is not _KEEP:
        raise CheckpointError(f"checkpoint {source.label!r} is a detection/segmentation backbone without a classifier head; drop num_classes")
    if num_classes is not _KEEP and num_classes != model.num_classes:
        model = replace_head(model, num_classes)
        if num_classes is not None:
            warnings.warn(untrained_head_message(num_classes, source.label), UntrainedHeadWarning, stacklevel=2)
    return model


def untrained_head_message(num_classes: int, label: str) -> str:
    """The warning for a new head: what is untrained and what to do about it."""
    return (
        f"warning: new {num_classes}-class head, freshly initialised and untrained (only the backbone comes from {label}); "
        "fine-tune it before trusting the model's predictions"
    )


def replace_head(model: MambaVision, num_classes: int | None) -> MambaVision:
    """The same backbone (weights and BatchNorm statistics) with a new linear head of `num_classes`
    outputs (None: no head, pooled features), initialised as in training from a fixed seed, so the
    same checkpoint and class count always give the same model (a converted artifact can be
    verified against it). Eval mode; `variant` is kept."""
    try:
        options = resolve_config(**{**model.config, "num_classes": num_classes})
    except ValueError as exc:
        raise CheckpointError(f"invalid num_classes for a new head: {exc}") from exc
    fresh = MambaVision(**options)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("head.")}
    if num_classes is not None:
        generator = torch.Generator().manual_seed(HEAD_SEED)
        weight = torch.empty(num_classes, fresh.num_features)
        torch.nn.init.trunc_normal_(weight, std=0.02, generator=generator)
        state.update({"head.weight": weight, "head.bias": torch.zeros(num_classes)})
    load_state_dict_strict(fresh, state)
    fresh.variant = getattr(model, "variant", None)  # type: ignore[attr-defined]
    return fresh.eval()


def load_checkpoint_file(source: CheckpointFile, variant: str | None = None, **overrides: Any) -> MambaVision:
    """`load_checkpoint` for a located checkpoint, its head as in the weights unless `overrides`
    say otherwise (a num_classes that differs is then a mis-shaped head)."""
    path = source.path
    state = read_state_dict(path)
    dense = split_dense(state)
    if dense is not None:
        return load_backbone(dense, source.label, variant, **overrides)
    inferred = infer_config(state)
    embedded = read_embedded_config(path)
    hub_name, hub_options = hub.variant_from_config(source.hub_config, source.repo_id) if source.hub_config else (None, None)
    if variant:
        name = canonical_variant(variant)
    elif embedded is not None:
        name = None
    elif hub_options is not None:
        name = hub_name
    else:
        name = detect_variant(state, source.repo_id or str(path))  # a repository's name hints like a file's
    if embedded is not None and variant is None:
        options = dict(embedded)
        name = options.pop("__variant__", None)
        options.setdefault("num_classes", inferred["num_classes"])  # build() defaults to no head
    elif name is not None:
        options = config(name)
        options["num_classes"] = inferred["num_classes"]
    else:
        options = {**inferred, **(hub_options or {})}  # config.json gives what the weights cannot
        needed = [k for k in ("num_heads", "window_size") if k not in overrides and k not in options]
        if needed:
            raise CheckpointError(
                f"the weights are not an official variant's (dim {inferred['dim']}, depths {inferred['depths']}); "
                f"pass {' and '.join(needed)} (they cannot be read from the weights)"
            )
    options.update(overrides)
    try:
        options = resolve_config(**options)
    except ValueError as exc:
        raise CheckpointError(f"invalid architecture for checkpoint {source.label!r}: {exc}") from exc
    model = build(**options)
    load_state_dict_strict(model, state)
    model.variant = name  # type: ignore[attr-defined]
    return model.eval()


def checkpoint_filter_fn(state: Mapping[str, Any]) -> dict[str, Tensor]:
    """Map an official checkpoint object (any of the supported layouts) to this model's keys."""
    return extract_state_dict(state)


BACKBONE_PREFIX = "backbone."
"""Prefix of the backbone's weights in NVlabs' mmdet/mmseg checkpoints (the rest is neck and heads)."""

DETECTION_PARTS = ("rpn_head", "roi_head", "bbox_head", "mask_head")
SEGMENTATION_PARTS = ("decode_head", "auxiliary_head")
DENSE_PARTS = DETECTION_PARTS + SEGMENTATION_PARTS + ("neck",)

DENSE_WINDOWS: dict[tuple[str, str], list[int]] = {
    ("detection", "T"): [8, 8, 112, 56],
    ("detection", "S"): [8, 8, 112, 56],
    ("detection", "B"): [8, 8, 112, 56],
    ("segmentation", "T"): [8, 8, 64, 32],
    ("segmentation", "S"): [8, 8, 160, 56],
    ("segmentation", "B"): [8, 8, 64, 32],
    ("segmentation", "L3-512-21K"): [8, 8, 64, 32],
}
"""Window sizes of NVlabs' published detection (Cascade Mask R-CNN, COCO) and segmentation (UPerNet,
ADE20K) backbones, from their configs: unlike the other options, windows are not in the weights."""


class IgnoredWeightsWarning(UserWarning):
    """A detection/segmentation checkpoint was loaded as its backbone; its neck and heads were left out."""


@dataclass
class DenseCheckpoint:
    """The parts of an mmdet/mmseg checkpoint: the backbone's weights (prefix removed), the tensor
    count of every other top-level part, and the task its heads tell ('detection', 'segmentation' or None)."""

    backbone: dict[str, Tensor]
    ignored: dict[str, int]
    task: str | None


def split_dense(state: Mapping[str, Tensor]) -> DenseCheckpoint | None:
    """The backbone and the ignored parts of a detection/segmentation checkpoint (keys under
    'backbone.', 'neck.', 'decode_head.', 'roi_head.', ...); None for a classifier's weights."""
    parts = {k.split(".", 1)[0] for k in state}
    if "backbone" not in parts and not parts & set(DENSE_PARTS):
        return None
    backbone = {k[len(BACKBONE_PREFIX) :]: v for k, v in state.items() if k.startswith(BACKBONE_PREFIX)}
    ignored: dict[str, int] = {}
    for key in state:
        if not key.startswith(BACKBONE_PREFIX):
            part = key.split(".", 1)[0]
            ignored[part] = ignored.get(part, 0) + 1
    task = "detection" if parts & set(DETECTION_PARTS) else "segmentation" if parts & set(SEGMENTATION_PARTS) else None
    return DenseCheckpoint(backbone, ignored, task)


def _dense_variant(inferred: Mapping[str, Any], task: str | None) -> str | None:
    """The official variant a backbone's weights have (one with published dense windows for the task first)."""
    matches = [
        name
        for name in VARIANTS
        if all(inferred[key] == (list(config(name)[key]) if key == "depths" else config(name)[key]) for key in _ARCH_KEYS if key != "layer_scale_conv")
    ]
    known = [name for name in matches if (task, name) in DENSE_WINDOWS]
    return (known or matches or [None])[0]


def load_backbone(dense: DenseCheckpoint, label: str, variant: str | None = None, **overrides: Any) -> MambaVisionBackbone:
    """The backbone of a detection/segmentation checkpoint, loaded strictly, in eval mode; a one-line
    IgnoredWeightsWarning lists the parts left out. Its stage norms (`outnorm<i>`, LayerNorm2d or
    BatchNorm2d) and levels are read from the weights, its windows from DENSE_WINDOWS for an official
    variant; `overrides` are build options (window_size, num_heads for a custom backbone)."""
    state = dense.backbone
    if not state:
        parts = ", ".join(f"{p}." for p in dense.ignored)
        raise CheckpointError(f"checkpoint {label!r} holds detection/segmentation weights ({parts}) but no {BACKBONE_PREFIX!r} weights; pass a checkpoint that includes its backbone")
    for key in ("patch_embed.conv_down.0.weight", "patch_embed.conv_down.3.weight"):
        if key not in state:
            raise CheckpointError(f"checkpoint {label!r} has no {BACKBONE_PREFIX + key!r}: its backbone is not MambaVision's, or the file is incomplete")
    inferred = infer_config(state)
    indices = sorted({int(k[len("outnorm") :].split(".")[0]) for k in state if re.match(r"outnorm\d+\.", k)})
    batch_norm = any(k.startswith("outnorm") and k.endswith(".running_mean") for k in state)
    name = canonical_variant(variant) if variant else _dense_variant(inferred, dense.task)
    if name is not None:
        options = config(name)
        windows = DENSE_WINDOWS.get((dense.task, name))
        if windows is None and "window_size" not in overrides:
            raise CheckpointError(
                f"the window sizes of backbone {label!r} are not in its weights; pass window_size=[...] as its detection/segmentation config's backbone has it"
            )
        options["window_size"] = windows
    else:
        options = dict(inferred)
        needed = [k for k in ("num_heads", "window_size") if k not in overrides]
        if needed:
            raise CheckpointError(
                f"the backbone of {label!r} is not an official variant's (dim {inferred['dim']}, depths {inferred['depths']}); "
                f"pass {' and '.join(needed)} (they cannot be read from the weights)"
            )
    options.update(layer_scale_conv=inferred["layer_scale_conv"], out_indices=indices or [0, 1, 2, 3], out_norm="bn" if batch_norm else "ln2d")
    options.update(overrides)
    try:
        model = build(**options)
    except ValueError as exc:
        raise CheckpointError(f"invalid architecture for backbone {label!r}: {exc}") from exc
    if not isinstance(model, MambaVisionBackbone):
        raise CheckpointError(f"checkpoint {label!r} is a backbone: out_indices cannot be None")
    load_state_dict_strict(model, state, BACKBONE_PREFIX)
    model.variant = name  # type: ignore[attr-defined]
    if dense.ignored:
        parts = ", ".join(f"{p}. ({n})" for p, n in sorted(dense.ignored.items()))
        warnings.warn(f"note: loaded the backbone of {label} ({len(state)} tensors); ignored {parts}", IgnoredWeightsWarning, stacklevel=3)
    return model.eval()
