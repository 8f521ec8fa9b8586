#!/usr/bin/env python
"""Whole-model benchmark: MambaVision-T forward, mvedge vs the official NVlabs code on CPU.

Both models compute the same function: the official model (PyPI mambavision==1.2.0, built with
random init through scripts/official_mambavision.py, which swaps the CUDA scan for mamba_ssm's
`selective_scan_ref`) is built first and its state dict is loaded strictly into mvedge's
MambaVision-T; the logits are compared before any timing. Then the forwards run interleaved
(one of each per round, order rotated) at 224 px, batch 1, fp32, torch.no_grad(),
torch.set_num_threads(2).

Rows: the official model, mvedge with its default scan (two-pass form, default chunk size), mvedge
with the extra chunk sizes given by --chunks, mvedge with the log-step scan form (--logstep-chunks),
and an ablation of both models with the scan replaced by y = D*u (isolates what the scan costs;
--no-ablation to skip).

This needs the official package, i.e. the separate venv built by scripts/setup_official_env.sh,
with mvedge installed into it (`OFFICIAL_VENV/bin/pip install --no-deps -e .`, OFFICIAL_VENV being the
folder given to that script, default ~/.venvs/mvedge-official):

  OFFICIAL_VENV/bin/python benchmarks/bench_model.py            # full run
  OFFICIAL_VENV/bin/python benchmarks/bench_model.py --quick    # short run
Results go to benchmarks/results/model.json (or --json OUT).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable

if "--omp-active" not in sys.argv:  # must be set before torch (OpenMP) is loaded; see --omp-active
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from timing import cpu_name, interleaved, loadavg, summarize, wait_quiet  # noqa: E402  (benchmarks/timing.py)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "model.json"
THREADS = 2
LOGIT_TOL = 1e-3  # max abs logit difference allowed (fp32, random weights: typically ~1e-5)


def load_official():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import official_mambavision as om
    except ImportError as exc:  # pragma: no cover - environment problem
        raise SystemExit(f"cannot import scripts/official_mambavision.py: {exc}")
    try:
        om.prepare()
    except ImportError as exc:
        raise SystemExit(
            f"the official MambaVision package is not importable here ({exc}); run this script with the "
            "venv made by scripts/setup_official_env.sh (default ~/.venvs/mvedge-official/bin/python)"
        )
    return om


def use_scan_fn(model: torch.nn.Module, fn: Callable[..., torch.Tensor]) -> None:
    """Make every SelectiveScan module of `model` call fn(u, delta, A, B, C, D, delta_bias) (token-major)."""
    import types

    from mvedge.model.scan import SelectiveScan

    n = 0
    for module in model.modules():
        if isinstance(module, SelectiveScan):
            module.forward = types.MethodType(lambda self, *a: fn(*a), module)
            n += 1
    assert n > 0, "no SelectiveScan module found"


def use_logstep_scan(model: torch.nn.Module, chunk_size: int) -> None:
    """Make every SelectiveScan module of `model` run mvedge's log-step form at `chunk_size`."""
    from mvedge.model.scan import LOGSTEP, SelectiveScan

    for module in model.modules():
        if isinstance(module, SelectiveScan):
            module.method, module.chunk_size = LOGSTEP, chunk_size


def machine_info() -> dict[str, Any]:
    return {"nproc": os.cpu_count(), "cpu": cpu_name(), "python": platform.python_version(), "torch": torch.__version__}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short run: 5 timed rounds, no extra chunk sizes")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help="results file (default benchmarks/results/model.json)")
    p.add_argument("--repeats", type=int, default=None, help="timed rounds (default 30; quick 5)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up rounds (default 3; quick 1)")
    p.add_argument("--chunks", type=str, default="7,14", help="extra mvedge scan chunk sizes to time (comma-separated; '' for none)")
    p.add_argument("--omp-active", action="store_true",
                   help="keep OpenMP's default busy-waiting (by default OMP_WAIT_POLICY=PASSIVE is set: on a shared "
                        "machine spinning OpenMP workers inflate 2-thread eager times 5-50x)")
    p.add_argument("--wait-quiet", type=float, default=0.0, metavar="S",
                   help="before timing, wait up to S seconds until the 1-min load average is below --quiet-load (default 0: no wait)")
    p.add_argument("--quiet-load", type=float, default=1.5, help="load-average threshold for --wait-quiet (default 1.5)")
    p.add_argument("--logstep-chunks", type=str, default="7",
                   help="chunk sizes for rows of mvedge with its log-step scan form ('' for none)")
    p.add_argument("--no-ablation", action="store_true",
                   help="skip the ablation rows (both models with the scan replaced by y = D*u, to isolate the scan's cost)")
    p.add_argument("--variant", default="T", help="MambaVision variant (default T)")
    args = p.parse_args(argv)

    torch.set_num_threads(THREADS)
    repeats = args.repeats or (5 if args.quick else 30)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3)
    extra_chunks = [] if args.quick or not args.chunks else [int(c) for c in args.chunks.split(",")]
    logstep_chunks = [int(c) for c in args.logstep_chunks.split(",") if c.strip()]

    om = load_official()
    import mvedge
    from mvedge.model.scan import DEFAULT_CHUNK_SIZE

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    torch.manual_seed(0)
    official = om.official_variant(args.variant).eval()
    state = official.state_dict()
    cfg = mvedge.config(args.variant)
    models: dict[str, torch.nn.Module] = {"official (selective_scan_ref)": official}
    chunk_of: dict[str, int | None] = {"official (selective_scan_ref)": None}
    for T in [cfg["scan_chunk_size"]] + [c for c in extra_chunks if c != cfg["scan_chunk_size"]]:
        ours = mvedge.build(**{**cfg, "scan_chunk_size": T}).eval()
        ours.load_state_dict(state, strict=True)
        name = f"mvedge (chunk {'by length' if T is None else T}{', default' if T == DEFAULT_CHUNK_SIZE else ''})"
        models[name] = ours
        chunk_of[name] = T

    for T in logstep_chunks:  # mvedge with the log-step scan form
        ours = mvedge.build(**cfg).eval()
        ours.load_state_dict(state, strict=True)
        use_logstep_scan(ours, T)
        name = f"mvedge, log-step scan (chunk {T})"
        models[name] = ours
        chunk_of[name] = T

    x = torch.randn(1, 3, cfg["image_size"], cfg["image_size"], generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = official(x)
        ref_feat = official.forward_features(x)
        scale = float(ref.abs().max())
        agreement, feat_agreement = {}, {}
        for name, m in models.items():
            diff = float((m(x) - ref).abs().max())
            fdiff = float((m.forward_features(x) - ref_feat).abs().max())
            agreement[name] = diff
            feat_agreement[name] = fdiff
            log(f"{name}: max abs diff vs official: logits {diff:.3e} (|logits| max {scale:.3f}), "
                f"pooled features {fdiff:.3e} (|features| max {float(ref_feat.abs().max()):.3f})")
            assert diff <= LOGIT_TOL, f"{name} disagrees with the official model: max abs logit diff {diff:.3e} > {LOGIT_TOL}"

    calls: dict[str, Callable[[], Any]] = {k: (lambda m=m: m(x)) for k, m in models.items()}
    ablation = {}
    if not args.no_ablation:
        # scan cost: the same forwards with the selective scan replaced by y = D * u in both models
        def no_scan_official(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, return_last_state=False):
            return u * D[None, :, None]

        ours_ablated = mvedge.build(**cfg).eval()
        ours_ablated.load_state_dict(state, strict=True)
        use_scan_fn(ours_ablated, lambda u, delta, A, B, C, D, delta_bias: u * D.reshape(1, 1, -1))

        def official_ablated() -> torch.Tensor:
            with om.patched_scan(no_scan_official):
                return official(x)

        with torch.no_grad():
            diff = float((ours_ablated(x) - official_ablated()).abs().max())
        assert diff <= LOGIT_TOL, f"ablated models disagree: {diff:.3e}"
        ablation = {"official, scan -> D*u (ablation)": official_ablated,
                    "mvedge, scan -> D*u (ablation)": (lambda: ours_ablated(x))}
        calls.update(ablation)
        for k in ablation:
            agreement[k] = feat_agreement[k] = float("nan")
            chunk_of[k] = None
        log(f"ablation (scan -> D*u): official vs mvedge max abs logit diff {diff:.3e}")

    log(f"timing {len(calls)} forwards x {repeats} rounds (+{warmup} warm-up), {THREADS} threads")
    waited = wait_quiet(args.wait_quiet, args.quiet_load, log)
    load_before = loadavg()
    t_start = time.perf_counter()
    with torch.no_grad():
        times, probes = interleaved(calls, warmup, repeats)
    rows = {k: summarize(v) for k, v in times.items()}
    off = rows["official (selective_scan_ref)"]["median_ms"]
    for k, r in rows.items():
        r["speedup_vs_official"] = off / r["median_ms"]
        r["max_abs_logit_diff"] = agreement[k]
        r["max_abs_feature_diff"] = feat_agreement[k]
        r["scan_chunk_size"] = chunk_of[k]
    default_name = next(k for k, T in chunk_of.items() if T == cfg["scan_chunk_size"])
    results = {
        "benchmark": "model",
        "command": "python " + " ".join([os.path.relpath(__file__, ROOT)] + (argv if argv is not None else sys.argv[1:])),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine_info(),
        "versions": om.versions(),
        "settings": {"variant": args.variant, "image_size": cfg["image_size"], "batch": 1, "dtype": "float32",
                     "threads": THREADS, "repeats": repeats, "warmup": warmup, "quick": args.quick,
                     "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY")},
        "wait": waited,
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
        "timing_wall_s": time.perf_counter() - t_start,
        "logits_max_abs": scale,
        "features_max_abs": float(ref_feat.abs().max()),
        "probe": summarize(probes),
        "rows": rows,
        "goal": {"description": "mvedge (default chunk) at least as fast as the official CPU path (median)",
                 "met": rows[default_name]["median_ms"] <= off, "speedup": rows[default_name]["speedup_vs_official"]},
    }
    from mvedge.strict_json import write_atomic

    write_atomic(args.json, results, indent=2)

    print(f"### MambaVision-{args.variant}, {cfg['image_size']} px, batch 1, fp32, {THREADS} threads, no_grad "
          f"(median of {repeats} interleaved rounds)\n")
    print("| model | median ms | min ms | p90 ms | speedup vs official (median) | max abs diff: logits / features |")
    print("|---|---:|---:|---:|---:|---:|")
    for k, r in rows.items():
        diffs = "-" if "ablation" in k else f"{r['max_abs_logit_diff']:.1e} / {r['max_abs_feature_diff']:.1e}"
        print(f"| {k} | {r['median_ms']:.1f} | {r['min_ms']:.1f} | {r['p90_ms']:.1f} | {r['speedup_vs_official']:.2f}x | {diffs} |")
    if ablation:
        off_abl = rows["official, scan -> D*u (ablation)"]["median_ms"]
        our_abl = rows["mvedge, scan -> D*u (ablation)"]["median_ms"]
        results["scan_cost_ms"] = {k: r["median_ms"] - (off_abl if k.startswith("official") else our_abl)
                                   for k, r in rows.items() if "ablation" not in k}
        print("\nScan cost per forward (median minus the same model's ablation median): " + "; ".join(
            f"{k}: {v:.0f} ms" for k, v in results["scan_cost_ms"].items()))
        write_atomic(args.json, results, indent=2)
    pr = results["probe"]
    print(f"\nMachine load: probe (fixed pure-Python loop) median {pr['median_ms']:.3f} ms, min {pr['min_ms']:.3f} ms; "
          f"loadavg {results['loadavg_before']} -> {results['loadavg_after']}.")
    g = results["goal"]
    print(f"\nGoal (mvedge default at least as fast as official): {'met' if g['met'] else 'NOT met'} ({g['speedup']:.2f}x)")
    log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
