"""Load NVIDIA's official MambaVision (PyPI ``mambavision==1.2.0``) on a CPU-only machine.

Why this module exists
----------------------
The official package cannot be imported as-is without CUDA:

* ``timm`` imports ``torchvision``; the PyPI ``torchvision==0.28.0`` wheel is a CUDA build whose
  ``_C.so`` cannot be loaded next to the CPU torch, and ``import torchvision`` then dies with
  ``operator torchvision::nms does not exist`` (its fake-kernel registrations need the op schemas).
* ``mamba_ssm/__init__.py`` imports Triton-based modules (Mamba2, layer norm) — Triton is absent.
* ``mamba_ssm.ops.selective_scan_interface`` does ``import selective_scan_cuda`` (the CUDA
  extension, never built here) and imports ``mamba_ssm.ops.triton.layer_norm`` at top level,
  although its pure-PyTorch reference ``selective_scan_ref`` needs neither.
* ``mambavision.models.mamba_vision`` binds ``selective_scan_fn`` (CUDA-only) at import time.

:func:`prepare` applies this shim, in order:

(a) define the ``torchvision::nms`` / ``torchvision::qnms`` op schemas when torchvision's ``_C``
    library cannot be loaded, so that ``import torchvision`` (and hence timm) succeeds;
(b) register a bare ``mamba_ssm`` package object (``__path__`` = installed directory) in
    ``sys.modules`` so that its ``__init__`` (Triton imports) is skipped;
(c) register empty stub modules ``selective_scan_cuda`` and ``mamba_ssm.ops.triton.layer_norm``
    (the latter with ``_layer_norm_fwd = None``);
(d) import the real ``mamba_ssm.ops.selective_scan_interface`` and rebind its
    ``selective_scan_fn`` to ``selective_scan_ref``;
(e) import ``mambavision.models.mamba_vision`` and also rebind the name ``selective_scan_fn``
    inside it (it was bound at import time) to ``selective_scan_ref``.

The official forward pass is then exactly the published code, with the CUDA scan kernel replaced
by mamba_ssm's own reference implementation of the same contract (``selective_scan_ref``: same
arguments and result as the CUDA ``selective_scan_fn``).

Everything happens lazily on the first call of :func:`prepare` (or of a function that needs the
official code); importing this module only imports the standard library and torch, so it is safe
to import from benchmarks or tests, also in environments without the official package (the
functions then raise ``ImportError``). The shim is meant for the dedicated venv created by
``scripts/setup_official_env.sh``; it changes ``sys.modules`` of the running process.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import importlib.metadata
import importlib.util
import sys
import types
from pathlib import Path
from typing import Callable, Iterator

import torch

__all__ = [
    "VARIANTS",
    "prepare",
    "official_module",
    "official_model_class",
    "official_variant",
    "official_factory",
    "reference_scan",
    "patched_scan",
    "versions",
]

#: Names of the official factory functions, without the ``mamba_vision_`` prefix.
VARIANTS: tuple[str, ...] = (
    "T", "T2", "S", "B", "L", "L2",
    "B_21k", "L_21k", "L2_512_21k", "L3_256_21k", "L3_512_21k",
)

_NMS_SCHEMA = "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"
_prepared = False
_scan_ref: Callable | None = None
_mv_module: types.ModuleType | None = None


def _torchvision_op_exists(name: str) -> bool:
    try:
        getattr(torch.ops.torchvision, name)
        return True
    except (AttributeError, RuntimeError):
        return False


def _ensure_torchvision_ops() -> None:
    """Step (a): make ``import torchvision`` work with a torchvision whose ``_C`` cannot load.

    If torchvision's compiled library loads (a matching CPU wheel), nothing is defined. Otherwise
    only the schemas of ``nms`` and ``qnms`` are declared (no kernels): torchvision registers fake
    kernels for them at import time, and MambaVision never calls them.
    """
    if _torchvision_op_exists("nms"):
        return
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        return  # timm's import will report the missing torchvision itself
    for lib in sorted(Path(spec.origin).parent.glob("_C*.so")):
        try:
            torch.ops.load_library(str(lib))
        except (OSError, RuntimeError):
            pass
    for name in ("nms", "qnms"):
        if not _torchvision_op_exists(name):
            torch.library.define(f"torchvision::{name}", _NMS_SCHEMA)


def _install_mamba_ssm_shim() -> None:
    """Steps (b) and (c): bare ``mamba_ssm`` package plus stubs for its CUDA/Triton modules."""
    if "mamba_ssm" not in sys.modules:
        spec = importlib.util.find_spec("mamba_ssm")  # locates the package, does not run __init__
        if spec is None or not spec.submodule_search_locations:
            raise ImportError(
                "mamba_ssm is not installed; run scripts/setup_official_env.sh and use that venv")
        pkg = types.ModuleType("mamba_ssm", "bare mamba_ssm package (see official_mambavision.py)")
        pkg.__path__ = list(spec.submodule_search_locations)
        pkg.__file__ = spec.origin
        pkg.__spec__ = importlib.machinery.ModuleSpec("mamba_ssm", None, is_package=True)
        pkg.__spec__.submodule_search_locations = pkg.__path__
        pkg.__version__ = importlib.metadata.version("mamba_ssm")
        sys.modules["mamba_ssm"] = pkg
    if "selective_scan_cuda" not in sys.modules:
        sys.modules["selective_scan_cuda"] = types.ModuleType(
            "selective_scan_cuda", "stub: CUDA extension not built; selective_scan_ref is used")
    name = "mamba_ssm.ops.triton.layer_norm"
    if name not in sys.modules:
        stub = types.ModuleType(name, "stub: Triton layer norm is unavailable on CPU")
        stub._layer_norm_fwd = None
        sys.modules[name] = stub


def prepare() -> types.ModuleType:
    """Apply the whole CPU shim once (idempotent) and return ``mambavision.models.mamba_vision``.

    Must run before anything imports timm/mambavision in this process; calling it later still
    rebinds the scan in the official module, but an earlier failed import cannot be undone.
    """
    global _prepared, _scan_ref, _mv_module
    if _prepared:
        return _mv_module
    _ensure_torchvision_ops()
    _install_mamba_ssm_shim()
    sis = importlib.import_module("mamba_ssm.ops.selective_scan_interface")
    _scan_ref = sis.selective_scan_ref
    sis.selective_scan_fn = _scan_ref  # (d)
    mv = importlib.import_module("mambavision.models.mamba_vision")
    mv.selective_scan_fn = _scan_ref  # (e): the name was bound when mamba_vision was imported
    _mv_module = mv
    _prepared = True
    return mv


def official_module() -> types.ModuleType:
    """The official ``mambavision.models.mamba_vision`` module, shim applied."""
    return prepare()


def official_model_class() -> type:
    """The official ``MambaVision`` ``nn.Module`` class (constructor kwargs: dim, in_dim, depths, window_size,
    mlp_ratio, num_heads, drop_path_rate, in_chans, num_classes, qkv_bias, qk_scale, drop_rate,
    attn_drop_rate, layer_scale, layer_scale_conv)."""
    return prepare().MambaVision


def official_factory(name: str) -> Callable:
    """The official factory function ``mamba_vision_<name>`` (e.g. ``"T"``, ``"L3_512_21k"``)."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; expected one of {VARIANTS}")
    return getattr(prepare(), f"mamba_vision_{name}")


def official_variant(name: str, **kwargs) -> torch.nn.Module:
    """Build an official factory model with random init, e.g. ``official_variant("T")``.

    Equivalent to ``mamba_vision_<name>(pretrained=False, **kwargs)``; never downloads anything.
    The returned model is in training mode, as the factory leaves it.
    """
    if kwargs.get("pretrained"):
        raise ValueError("pretrained=True would download from the internet; load a state_dict instead")
    kwargs.pop("pretrained", None)
    return official_factory(name)(pretrained=False, **kwargs)


def reference_scan() -> Callable:
    """mamba_ssm's pure-PyTorch ``selective_scan_ref`` (what the official model now calls)."""
    prepare()
    return _scan_ref


@contextlib.contextmanager
def patched_scan(fn: Callable) -> Iterator[None]:
    """Temporarily make the official mixer call ``fn`` instead of ``selective_scan_ref``.

    ``fn`` receives the same arguments as ``selective_scan_fn`` (u, delta, A, B, C, D, z,
    delta_bias, delta_softplus, return_last_state). Used to measure how
    sensitive outputs are to scan details (e.g. the doubled dt bias).
    """
    mv = prepare()
    old = mv.selective_scan_fn
    mv.selective_scan_fn = fn
    try:
        yield
    finally:
        mv.selective_scan_fn = old


def versions() -> dict[str, str]:
    """Installed versions of the packages that define the official numerics."""
    out = {}
    for dist in ("mambavision", "torch", "timm", "mamba_ssm", "torchvision", "einops"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out
