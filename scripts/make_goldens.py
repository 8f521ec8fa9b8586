#!/usr/bin/env python3
"""Write golden reference outputs of the OFFICIAL MambaVision (PyPI mambavision==1.2.0), CPU.

Run inside the venv made by ``scripts/setup_official_env.sh`` (``OFFICIAL_VENV``: the folder given
to it, default ``~/.venvs/mvedge-official``)::

    OFFICIAL_VENV/bin/python scripts/make_goldens.py [--out tests/fixtures/goldens]

For each case below it builds a small official ``MambaVision(...)``, overwrites EVERY parameter and
buffer with seeded random values of a meaningful scale (see :func:`randomize_`; the official
init — layer-scale 1e-5, dt bias ~0, A_log = log(1..N) — would make blocks nearly invisible and the
tests blind), switches to eval() and records, per image size, the input, the logits, the
``forward_features`` output and per-stage features (``patch_embed`` and every ``levels[i]`` output,
i.e. after that level's downsample where it has one).

Output: ``<out>/<case>.safetensors`` (weights and inputs as float16 holding exactly the fp16-representable values the official float32 model ran on; outputs float32; state_dict under ``state_dict/<key>``,
including the int64 ``num_batches_tracked`` scalars; per size ``<H>x<W>/{input,logits,
forward_features,patch_embed,levels.<i>}``) and ``<out>/index.json`` (constructor kwargs, sizes,
seeds, versions, windows/padding per level, and a sensitivity report showing that the goldens
detect a wrong dt-bias count or a dead scan).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import official_mambavision as om  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BASE_SEED = 20250707
SIZES = [(64, 64), (80, 80), (72, 104)]
COMMON = dict(in_chans=3, num_classes=10, mlp_ratio=4, drop_path_rate=0.0)
CASES = {
    "hybrid_nols": dict(dim=8, in_dim=8, depths=[1, 2, 3, 4], num_heads=[2, 2, 4, 4],
                        window_size=[8, 8, 4, 2], layer_scale=None, layer_scale_conv=None, **COMMON),
    "hybrid_ls": dict(dim=12, in_dim=8, depths=[2, 1, 2, 3], num_heads=[1, 2, 3, 6],
                      window_size=[8, 8, 4, 2], layer_scale=1e-5, layer_scale_conv=1e-5, **COMMON),
}
# NVlabs' detection/segmentation backbone (MM_mamba_vision): its constructor keeps only these
# kwargs (drop_path_rate, in_chans, layer_scale_conv are fixed by the class), plus the stage norm.
BACKBONE_SIZES = [(64, 64), (72, 104)]  # 72x104: non-square, padded to windows at levels 2 and 3
BACKBONE_CASES = {
    "backbone_ln2d": dict(dim=8, in_dim=8, depths=[1, 2, 3, 4], num_heads=[2, 2, 4, 4], window_size=[8, 8, 4, 2],
                          mlp_ratio=4, layer_scale=1e-5, out_indices=[0, 1, 2, 3], norm_layer="ln2d"),
    "backbone_bn": dict(dim=8, in_dim=8, depths=[2, 1, 2, 3], num_heads=[1, 2, 2, 4], window_size=[8, 8, 4, 2],
                        mlp_ratio=4, layer_scale=None, out_indices=[1, 3], norm_layer="bn"),
}
# Minimum acceptable relative logit change for each deliberate mistake (relative to max|logits|).
MIN_REL_SENSITIVITY = 1e-2
COMMAND = ("bash scripts/setup_official_env.sh OFFICIAL_VENV && "
           "OFFICIAL_VENV/bin/python scripts/make_goldens.py --backbone-file NVLABS_CHECKOUT/object_detection/tools/mamba_vision.py && "
           "OFFICIAL_VENV/bin/python scripts/make_official_keys.py")


# --------------------------------------------------------------------------------------------
# randomisation
# --------------------------------------------------------------------------------------------
def _normal(t: torch.Tensor, std: float, g: torch.Generator) -> torch.Tensor:
    return torch.randn(t.shape, generator=g, dtype=torch.float64).mul_(std).to(t.dtype)


def _uniform(t: torch.Tensor, lo: float, hi: float, g: torch.Generator) -> torch.Tensor:
    return torch.rand(t.shape, generator=g, dtype=torch.float64).mul_(hi - lo).add_(lo).to(t.dtype)


@torch.no_grad()
def randomize_(model: nn.Module, g: torch.Generator, mixer_cls: type | None = None) -> dict[str, str]:
    """Overwrite every parameter and buffer of an official MambaVision in place.

    Distributions (chosen so that every component visibly affects the output):
      conv / linear weights  N(0, std=1/sqrt(fan_in))       (fan_in = in/groups * kernel)
      conv / linear biases   N(0, 0.1)
      BatchNorm              weight U(0.5,1.5), bias N(0,0.1), running_mean N(0,0.2),
                             running_var U(0.5,1.5), num_batches_tracked random int (no effect)
      LayerNorm              weight U(0.5,1.5), bias N(0,0.1)
      mixer                  A_log = log(U(0.5,4)), D U(0.5,1.5), dt_proj.bias U(-2,0.5)
      layer-scale gammas     U(0.5,1.5)  (instead of the official 1e-5 init)
    Returns {state_dict key: rule}; raises if any state_dict entry was not covered.
    """
    rules: dict[str, str] = {}

    def put(prefix: str, name: str, value: torch.Tensor, rule: str) -> None:
        key = f"{prefix}.{name}" if prefix else name
        target = dict(model.named_parameters()).get(key)
        if target is None:
            target = dict(model.named_buffers())[key]
        assert target.shape == value.shape, key
        if value.is_floating_point():  # fp16-representable, so the file can store it as fp16 losslessly
            value = value.half().to(value.dtype)
        target.copy_(value)
        rules[key] = rule

    mixer_cls = mixer_cls or om.official_module().MambaVisionMixer
    for prefix, m in model.named_modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            w = m.weight
            fan_in = w.shape[1] * math.prod(w.shape[2:]) if w.dim() > 2 else w.shape[1]
            put(prefix, "weight", _normal(w, 1.0 / math.sqrt(fan_in), g), "N(0,1/sqrt(fan_in))")
            if m.bias is not None:
                put(prefix, "bias", _normal(m.bias, 0.1, g), "N(0,0.1)")
        elif isinstance(m, nn.BatchNorm2d):
            put(prefix, "weight", _uniform(m.weight, 0.5, 1.5, g), "U(0.5,1.5)")
            put(prefix, "bias", _normal(m.bias, 0.1, g), "N(0,0.1)")
            put(prefix, "running_mean", _normal(m.running_mean, 0.2, g), "N(0,0.2)")
            put(prefix, "running_var", _uniform(m.running_var, 0.5, 1.5, g), "U(0.5,1.5)")
            nbt = torch.randint(1, 100000, (), generator=g, dtype=torch.int64)
            put(prefix, "num_batches_tracked", nbt, "randint(1,1e5), unused in eval")
        elif isinstance(m, nn.LayerNorm):
            put(prefix, "weight", _uniform(m.weight, 0.5, 1.5, g), "U(0.5,1.5)")
            put(prefix, "bias", _normal(m.bias, 0.1, g), "N(0,0.1)")
        if isinstance(m, mixer_cls):
            put(prefix, "A_log", _uniform(m.A_log, 0.5, 4.0, g).log(), "log(U(0.5,4))")
            put(prefix, "D", _uniform(m.D, 0.5, 1.5, g), "U(0.5,1.5)")
        for gname in ("gamma", "gamma_1", "gamma_2"):
            p = getattr(m, gname, None)
            if isinstance(p, nn.Parameter):
                put(prefix, gname, _uniform(p, 0.5, 1.5, g), "U(0.5,1.5) (layer scale)")
    # dt_proj.bias last so that it overrides the generic Linear bias rule
    for prefix, m in model.named_modules():
        if isinstance(m, mixer_cls):
            put(f"{prefix}.dt_proj", "bias", _uniform(m.dt_proj.bias, -2.0, 0.5, g), "U(-2,0.5)")
    missing = set(model.state_dict()) - set(rules)
    if missing:
        raise RuntimeError(f"randomize_ left entries untouched: {sorted(missing)}")
    return rules


# --------------------------------------------------------------------------------------------
# running the official model
# --------------------------------------------------------------------------------------------
@torch.no_grad()
def run_with_features(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Logits, forward_features and per-stage outputs of the official model (eval mode)."""
    feats: dict[str, torch.Tensor] = {}
    handles = [model.patch_embed.register_forward_hook(
        lambda _m, _i, o: feats.__setitem__("patch_embed", o.detach().clone()))]
    for i, level in enumerate(model.levels):
        handles.append(level.register_forward_hook(
            lambda _m, _i, o, i=i: feats.__setitem__(f"levels.{i}", o.detach().clone())))
    try:
        logits = model(x)
    finally:
        for h in handles:
            h.remove()
    ff = model.forward_features(x)
    assert torch.equal(model.head(ff), logits), "forward_features disagrees with forward"
    return {"logits": logits, "forward_features": ff, **feats}


@torch.no_grad()
def window_report(model: nn.Module, x: torch.Tensor) -> list[dict]:
    """Input map size, window, padding and window count of levels 2 and 3 for input x."""
    rows: list[dict] = []

    def pre(m, args, i):
        h, w = args[0].shape[-2:]
        ws = m.window_size
        pad_b, pad_r = (ws - h % ws) % ws, (ws - w % ws) % ws
        rows.append(dict(level=i, map=[h, w], window=ws, pad_bottom=pad_b, pad_right=pad_r,
                         windows_per_image=((h + pad_b) // ws) * ((w + pad_r) // ws),
                         needs_padding=bool(pad_b or pad_r)))

    handles = [model.levels[i].register_forward_pre_hook(lambda m, a, i=i: pre(m, a, i))
               for i in (2, 3)]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    return rows


def _scan_single_bias(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                      return_last_state=False):
    return om.reference_scan()(u, delta, A, B, C, D, z, None, delta_softplus, return_last_state)


def _scan_zero(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
               return_last_state=False):
    return torch.zeros_like(u)


@torch.no_grad()
def sensitivity(model: nn.Module, x: torch.Tensor, ref_logits: torch.Tensor) -> dict:
    """How much the logits move under deliberate porting mistakes (the goldens must catch them)."""
    scale = ref_logits.abs().max().item()
    out = {"max_abs_logits": scale}
    for name, fn in (("dt_bias_once", _scan_single_bias), ("scan_zeroed", _scan_zero)):
        with om.patched_scan(fn):
            diff = (model(x) - ref_logits).abs().max().item()
        out[name] = {"max_abs_change": diff, "relative_to_max_abs_logits": diff / scale}
    return out


def _compact(t: torch.Tensor) -> torch.Tensor:
    """Float tensors whose values are fp16-representable, stored as float16 (lossless, half the bytes)."""
    t = t.detach().clone().contiguous()
    if t.is_floating_point():
        assert torch.equal(t.half().float(), t.float()), "value not fp16-representable"
        return t.half()
    return t


def _check_file(path: Path, kwargs: dict, sizes, expected: dict[str, torch.Tensor]) -> None:
    """Reload the written file into a fresh official model (strict) and recompute everything."""
    from safetensors.torch import load_file
    data = load_file(str(path))
    sd = {k[len("state_dict/"):]: v for k, v in data.items() if k.startswith("state_dict/")}
    model = om.official_model_class()(**kwargs)
    model.load_state_dict(sd, strict=True)
    model.eval()
    for h, w in sizes:
        tag = f"{h}x{w}"
        got = run_with_features(model, data[f"{tag}/input"].float())
        for k, v in got.items():
            assert torch.equal(v, data[f"{tag}/{k}"]), f"{path.name}: {tag}/{k} not reproducible"
    for k, v in expected.items():
        assert torch.equal(v, data[k]), k


def make_case(name: str, kwargs: dict, seed: int, out_dir: Path) -> dict:
    from safetensors.torch import save_file

    torch.manual_seed(seed)  # the official constructor draws from the global RNG
    model = om.official_model_class()(**kwargs)
    g = torch.Generator().manual_seed(seed)
    rules = randomize_(model, g)
    model.eval()

    tensors: dict[str, torch.Tensor] = {
        f"state_dict/{k}": _compact(v) for k, v in model.state_dict().items()}
    info: dict = {"seed": seed, "sizes": [list(s) for s in SIZES], "batch": 2, "sizes_info": {},
                  "randomization": sorted(set(rules.values()))}
    for i, (h, w) in enumerate(SIZES):
        tag = f"{h}x{w}"
        gi = torch.Generator().manual_seed(seed * 100 + i + 1)
        x = torch.randn(2, kwargs["in_chans"], h, w, generator=gi).half().float()
        res = run_with_features(model, x)
        again = run_with_features(model, x)
        assert all(torch.equal(res[k], again[k]) for k in res), "official model not deterministic"
        tensors[f"{tag}/input"] = _compact(x)
        for k, v in res.items():
            assert v.dtype == torch.float32 and torch.isfinite(v).all(), (tag, k)
            tensors[f"{tag}/{k}"] = v.contiguous()
        windows = window_report(model, x)
        info["sizes_info"][tag] = {
            "input_seed": seed * 100 + i + 1,
            "shapes": {k: list(v.shape) for k, v in res.items()},
            "max_abs": {k: float(v.abs().max()) for k, v in res.items()},
            "windows": windows,
        }
        pads = ", ".join(f"L{r['level']} map {r['map'][0]}x{r['map'][1]} w{r['window']} "
                         f"pad(b{r['pad_bottom']},r{r['pad_right']}) {r['windows_per_image']} win"
                         for r in windows)
        print(f"[{name}] {tag}: {pads}; needs padding at levels 2/3: "
              f"{[r['needs_padding'] for r in windows]}; max|logits| "
              f"{info['sizes_info'][tag]['max_abs']['logits']:.3f}")

    x64 = tensors["64x64/input"].float()
    sens = sensitivity(model, x64, tensors["64x64/logits"])
    sens["size"] = "64x64"
    sens["threshold_relative"] = MIN_REL_SENSITIVITY
    for k in ("dt_bias_once", "scan_zeroed"):
        rel = sens[k]["relative_to_max_abs_logits"]
        print(f"[{name}] sensitivity 64x64 {k}: max|dlogits| {sens[k]['max_abs_change']:.4g} "
              f"(rel {rel:.3g})")
        if rel < MIN_REL_SENSITIVITY:
            raise RuntimeError(f"{name}: {k} moves the logits by only {rel:.3g} (relative); "
                               "rescale the randomisation")
    info["sensitivity"] = sens

    path = out_dir / f"{name}.safetensors"
    # a single metadata entry: safetensors writes metadata in hash order, so several entries
    # would make the file bytes differ between otherwise identical runs
    save_file(tensors, str(path), metadata={"golden": json.dumps(
        {"case": name, "producer": "scripts/make_goldens.py", "official_kwargs": kwargs,
         "seed": seed}, sort_keys=True)})
    path.chmod(0o644)
    _check_file(path, kwargs, SIZES, {k: v for k, v in tensors.items() if k.startswith("state_dict/")})
    info["file"] = path.name
    info["bytes"] = path.stat().st_size
    info["num_state_dict_keys"] = sum(k.startswith("state_dict/") for k in tensors)
    info["num_params"] = sum(p.numel() for p in model.parameters())
    print(f"[{name}] wrote {path} ({info['bytes'] / 1e6:.2f} MB, "
          f"{info['num_state_dict_keys']} state_dict keys, {info['num_params']} params)")
    return info


@torch.no_grad()
def make_backbone_case(name: str, kwargs: dict, seed: int, out_dir: Path, backbone_file: Path) -> dict:
    """Goldens of the official detection/segmentation backbone: seeded random weights (as for the
    classifier), per size the input and every stage map it outputs (``stage.<i>``)."""
    from safetensors.torch import load_file, save_file

    import official_backbone as ob

    module = ob.backbone_module(backbone_file)
    torch.manual_seed(seed)
    model = module.MM_mamba_vision(**kwargs)
    rules = randomize_(model, torch.Generator().manual_seed(seed), module.MambaVisionMixer)
    model.eval()
    tensors = {f"state_dict/{k}": _compact(v) for k, v in model.state_dict().items()}
    info: dict = {"seed": seed, "sizes": [list(s) for s in BACKBONE_SIZES], "batch": 2,
                  "randomization": sorted(set(rules.values())), "shapes": {}}
    for i, (h, w) in enumerate(BACKBONE_SIZES):
        tag = f"{h}x{w}"
        x = torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(seed * 100 + i + 1)).half().float()
        outs = model(x)
        again = model(x)
        assert all(torch.equal(a, b) for a, b in zip(outs, again)), "official backbone not deterministic"
        tensors[f"{tag}/input"] = _compact(x)
        for level, out in zip(kwargs["out_indices"], outs):
            assert out.dtype == torch.float32 and torch.isfinite(out).all(), (tag, level)
            tensors[f"{tag}/stage.{level}"] = out.contiguous()
        info["shapes"][tag] = {f"stage.{lv}": list(o.shape) for lv, o in zip(kwargs["out_indices"], outs)}
        print(f"[{name}] {tag}: stages {info['shapes'][tag]}; max|stage| "
              f"{max(float(o.abs().max()) for o in outs):.3f}")
    path = out_dir / f"{name}.safetensors"
    save_file(tensors, str(path), metadata={"golden": json.dumps(
        {"case": name, "producer": "scripts/make_goldens.py", "official_kwargs": kwargs, "seed": seed,
         "source": f"{ob.REPOSITORY}@{ob.COMMIT}:{ob.file_commit_path(backbone_file)}"}, sort_keys=True)})
    path.chmod(0o644)
    data = load_file(str(path))  # reload into a fresh official backbone (strict) and recompute
    fresh = module.MM_mamba_vision(**kwargs)
    fresh.load_state_dict({k[len("state_dict/"):]: v for k, v in data.items() if k.startswith("state_dict/")}, strict=True)
    fresh.eval()
    for h, w in BACKBONE_SIZES:
        tag = f"{h}x{w}"
        for level, out in zip(kwargs["out_indices"], fresh(data[f"{tag}/input"].float())):
            assert torch.equal(out, data[f"{tag}/stage.{level}"]), f"{path.name}: {tag}/stage.{level} not reproducible"
    info["file"] = path.name
    info["bytes"] = path.stat().st_size
    info["source"] = f"{ob.REPOSITORY}@{ob.COMMIT}:{ob.file_commit_path(backbone_file)}"
    print(f"[{name}] wrote {path} ({info['bytes'] / 1e6:.2f} MB)")
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "tests" / "fixtures" / "goldens")
    ap.add_argument("--backbone-file", type=Path, required=True,
                    help="object_detection/tools/mamba_vision.py (or semantic_segmentation's) from a checkout "
                         "of NVlabs/MambaVision at the commit official_backbone.COMMIT names")
    ap.add_argument("--backbones-only", action="store_true",
                    help="regenerate only the backbone goldens, keeping the classifier cases of index.json as they are")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))

    index = {
        "description": "Official MambaVision (PyPI mambavision==1.2.0) outputs on CPU with mamba_ssm's "
                       "selective_scan_ref, small models with randomised weights (eval mode).",
        "command": COMMAND,
        "versions": om.versions(),
        "layout": {
            "state_dict/<key>": "official state_dict (float16 storage of fp16-representable values, loaded as float32; num_batches_tracked int64 scalars)",
            "<H>x<W>/input": "float16 storage of fp16-representable values (2, in_chans, H, W), seeded randn rounded to fp16; the model ran on them in float32",
            "<H>x<W>/logits": "model(input)",
            "<H>x<W>/forward_features": "model.forward_features(input): pooled (2, 8*dim) after BN",
            "<H>x<W>/patch_embed": "output of model.patch_embed",
            "<H>x<W>/levels.<i>": "output of model.levels[i] (after its downsample for i<3)",
        },
        "sensitivity_note": "relative = max|logits(mutated) - logits| / max|logits| at 64x64: "
                            "dt_bias_once = scan called with delta_bias=None (bias counted once "
                            "instead of twice); scan_zeroed = selective_scan returns zeros.",
        "cases": {},
    }
    if args.backbones_only:
        kept = json.loads((args.out / "index.json").read_text())
        index["cases"] = kept["cases"]
    else:
        for n, (name, kwargs) in enumerate(CASES.items()):
            info = make_case(name, kwargs, BASE_SEED + n, args.out)
            index["cases"][name] = {"official_kwargs": kwargs, **info}
    index["backbones"] = {}
    for n, (name, kwargs) in enumerate(BACKBONE_CASES.items()):
        info = make_backbone_case(name, kwargs, BASE_SEED + 100 + n, args.out, args.backbone_file)
        index["backbones"][name] = {"official_kwargs": kwargs, **info}
    index["backbone_layout"] = {
        "state_dict/<key>": "MM_mamba_vision state_dict (as for the classifier cases; no norm/head, outnorm<i> per output level)",
        "<H>x<W>/input": "float16 storage of fp16-representable values (2, 3, H, W)",
        "<H>x<W>/stage.<i>": "the backbone's output for level i: outnorm<i>(level i's blocks' output, before its downsample)",
    }
    index["total_bytes"] = sum(c["bytes"] for c in [*index["cases"].values(), *index["backbones"].values()])
    (args.out / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    print(f"wrote {args.out / 'index.json'}; goldens total {index['total_bytes'] / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
