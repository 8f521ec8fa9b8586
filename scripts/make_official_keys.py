#!/usr/bin/env python3
"""Record the state_dict layout and configuration of every official MambaVision factory.

Run inside the venv made by ``scripts/setup_official_env.sh`` (``OFFICIAL_VENV``: the folder given
to it, default ``~/.venvs/mvedge-official``)::

    OFFICIAL_VENV/bin/python scripts/make_official_keys.py [--verify-cpu T,T2,S,B|all|none]

Writes ``tests/fixtures/goldens/official_keys.json``: for each factory ``mamba_vision_<name>``
(PyPI mambavision==1.2.0) the exact keyword arguments it passes to ``MambaVision(...)``, the same
with constructor defaults filled in, its timm ``default_cfg`` preprocessing fields, and every
state_dict key with its shape (and dtype), so that a re-implementation can be checked for strict
checkpoint compatibility without the official package or any checkpoint.

Models are built on the meta device (no memory for weights; L3 would need ~3 GB). The official
constructor calls ``.item()`` on ``torch.linspace(...)`` (the drop-path schedule), which meta tensors
cannot do, so during the meta build ``torch.linspace`` is pinned to the CPU; nothing else is
affected. ``--verify-cpu`` rebuilds the listed variants on the CPU and asserts identical
keys/shapes/dtypes.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import inspect
import json
import re
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import official_mambavision as om  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CFG_FIELDS = ("mean", "std", "crop_pct", "crop_mode", "interpolation", "input_size", "num_classes",
              "fixed_input_size", "url")
ARCH_FIELDS = ("dim", "in_dim", "depths", "num_heads", "window_size", "drop_path_rate",
               "layer_scale", "layer_scale_conv", "mlp_ratio")


def _jsonable(v):
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return repr(v)


@contextlib.contextmanager
def _recording_constructor(captured: dict):
    """Temporarily replace MambaVision in the official module by a subclass recording kwargs."""
    mv = om.official_module()
    original = mv.MambaVision

    class Recording(original):
        def __init__(self, *args, **kwargs):
            assert not args, "factories pass keyword arguments only"
            captured.clear()
            captured.update(kwargs)
            super().__init__(**kwargs)

    mv.MambaVision = Recording
    try:
        yield original
    finally:
        mv.MambaVision = original


@contextlib.contextmanager
def _meta_device():
    """Default device meta, except torch.linspace (official code calls .item() on it)."""
    linspace = torch.linspace

    def cpu_linspace(*args, **kwargs):
        kwargs.setdefault("device", "cpu")
        return linspace(*args, **kwargs)

    torch.linspace = cpu_linspace
    try:
        with torch.device("meta"):
            yield
    finally:
        torch.linspace = linspace


def _layout(model: torch.nn.Module) -> dict:
    return {k: {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", "")}
            for k, v in model.state_dict().items()}


def describe(name: str, verify_cpu: bool) -> dict:
    captured: dict = {}
    with _recording_constructor(captured) as cls:
        with _meta_device():
            model = om.official_variant(name)
        kwargs = dict(captured)
    assert all(p.is_meta for p in model.parameters()), name
    layout = _layout(model)
    cfg = model.default_cfg
    bound = inspect.signature(cls.__init__).bind(None, **kwargs)
    bound.apply_defaults()
    effective = {k: v for k, v in bound.arguments.items() if k not in ("self", "kwargs")}
    effective_extra = bound.arguments.get("kwargs", {})  # swallowed by **kwargs (e.g. resolution)
    n_params = sum(p.numel() for p in model.parameters())
    del model
    if verify_cpu:
        cpu_model = om.official_variant(name)
        assert _layout(cpu_model) == layout, f"{name}: meta and CPU layouts differ"
        del cpu_model
        gc.collect()
    return {
        "factory": f"mamba_vision_{name}",
        "arch": {k: _jsonable(effective[k]) for k in ARCH_FIELDS},
        "constructor_kwargs_passed": _jsonable(kwargs),
        "constructor_kwargs_effective": _jsonable(effective),
        "ignored_kwargs": _jsonable(effective_extra),
        "default_cfg": {k: _jsonable(cfg.get(k)) for k in CFG_FIELDS},
        "num_params": n_params,
        "num_state_dict_keys": len(layout),
        "built_on": "meta" + (" (verified against a CPU build)" if verify_cpu else ""),
        "state_dict": {k: v["shape"] for k, v in layout.items()},
        "non_float32": {k: v["dtype"] for k, v in layout.items() if v["dtype"] != "float32"},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path,
                    default=REPO / "tests" / "fixtures" / "goldens" / "official_keys.json")
    ap.add_argument("--verify-cpu", default="T,T2,S,B",
                    help="comma-separated variants to cross-check on CPU, 'all' or 'none'")
    args = ap.parse_args()
    verify = set(om.VARIANTS if args.verify_cpu == "all" else
                 [] if args.verify_cpu == "none" else args.verify_cpu.split(","))
    out = {"description": "state_dict key -> shape and constructor/default_cfg of every official "
                          "MambaVision factory (PyPI mambavision==1.2.0)",
           "command": "OFFICIAL_VENV/bin/python scripts/make_official_keys.py",
           "versions": om.versions(), "variants": {}}
    for name in om.VARIANTS:
        d = describe(name, name in verify)
        out["variants"][name] = d
        print(f"{name:11s} params {d['num_params']:>11,d}  keys {d['num_state_dict_keys']:4d}  "
              f"{d['arch']}  {d['built_on']}")
    text = json.dumps(out, indent=1)
    # keep innermost lists (shapes, depths, mean/std) on one line
    text = re.sub(r"\[[^\[\]{}\"]*\]", lambda m: json.dumps(json.loads(m.group(0))), text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
