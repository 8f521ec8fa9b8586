"""Load NVlabs' detection/segmentation MambaVision backbone (``MM_mamba_vision``) on a CPU-only machine.

The backbone class lives in ``object_detection/tools/mamba_vision.py`` (and, identical but for
whitespace, ``semantic_segmentation/tools/mamba_vision.py``) of the NVlabs/MambaVision GitHub
repository; the PyPI package does not carry it, and this repository does not copy it. Give the path
of that file from a checkout of NVlabs/MambaVision; its SHA-256 must be one of :data:`KNOWN_FILES`
(the files at the pinned commit), so the goldens always come from the same code.

The file imports mmengine, mmdet, mmseg and mmcv only to register the class and to load
checkpoints; none of them is used by its forward pass. :func:`backbone_class` therefore
(a) applies ``official_mambavision.prepare()`` (the CPU shim for timm/torchvision/mamba_ssm),
(b) registers inert stand-ins for those four packages (a registry whose ``register_module()``
    returns the class unchanged, an empty ``BaseModule``, a ``load_checkpoint`` that refuses),
(c) imports the file under the module name ``nvlabs_mm_mamba_vision`` and rebinds its
    ``selective_scan_fn`` to mamba_ssm's ``selective_scan_ref``, as for the classifier.
Run it in the venv made by ``scripts/setup_official_env.sh``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import types
from pathlib import Path

import official_mambavision as om

REPOSITORY = "NVlabs/MambaVision"
COMMIT = "7860a506b2eb844eaaae676f08461ce8c3c26f43"
KNOWN_FILES = {
    "4db23345874a0018af13d2989e7b51595e3d413e02b27168b12a9d948fa43c85": "object_detection/tools/mamba_vision.py",
    "8af36329515da99a11d22b2186a2228d3fb8c16294a5a08e2242da4f51532599": "semantic_segmentation/tools/mamba_vision.py",
}
"""SHA-256 of the backbone files at COMMIT -> their path in the repository."""

MODULE_NAME = "nvlabs_mm_mamba_vision"


class _Registry:
    """Stand-in for an mm registry: ``register_module()`` returns the decorated class unchanged."""

    def register_module(self, *args, **kwargs):
        return lambda cls: cls


def _refuse_load_checkpoint(*args, **kwargs):
    raise RuntimeError("mmengine is not installed: the goldens never load a checkpoint through it")


def _install_mm_stubs() -> None:
    """Step (b): inert mmengine / mmdet / mmseg / mmcv modules with only the names the file imports."""
    if MODULE_NAME in sys.modules:
        return
    registry = _Registry()
    stubs = {
        "mmengine": {},
        "mmengine.model": {"BaseModule": type("BaseModule", (), {})},
        "mmengine.runner": {"load_checkpoint": _refuse_load_checkpoint},
        "mmdet": {},
        "mmdet.registry": {"MODELS": registry},
        "mmseg": {},
        "mmseg.registry": {"MODELS": registry},
        "mmcv": {},
    }
    for name, attrs in stubs.items():
        if name in sys.modules:
            continue
        module = types.ModuleType(name, "stub for the NVlabs backbone file (see official_backbone.py)")
        module.__path__ = []  # a package, so its submodules can be registered
        for attr, value in attrs.items():
            setattr(module, attr, value)
        sys.modules[name] = module


def file_commit_path(path: Path) -> str:
    """The repository path of a known backbone file; ValueError for any other content."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if digest not in KNOWN_FILES:
        raise ValueError(
            f"{path} (sha256 {digest}) is not {REPOSITORY}'s object_detection/tools/mamba_vision.py or "
            f"semantic_segmentation/tools/mamba_vision.py at commit {COMMIT}; check out that commit")
    return KNOWN_FILES[digest]


def backbone_module(path: str | Path) -> types.ModuleType:
    """The NVlabs backbone file imported with the CPU shim (idempotent)."""
    if MODULE_NAME in sys.modules:
        return sys.modules[MODULE_NAME]
    file_commit_path(Path(path))
    om.prepare()
    _install_mm_stubs()
    spec = importlib.util.spec_from_file_location(MODULE_NAME, str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[MODULE_NAME]
        raise
    module.selective_scan_fn = om.reference_scan()  # (c): bound at import time to the CUDA kernel
    return module


def backbone_class(path: str | Path) -> type:
    """The official ``MM_mamba_vision`` class (kwargs: dim, in_dim, depths, window_size, mlp_ratio,
    num_heads, out_indices, pretrained, norm_layer, layer_scale)."""
    return backbone_module(path).MM_mamba_vision
