#!/usr/bin/env python
"""Latency of MambaVision-T at 224 px, batch 1, 2 threads: PyTorch eager fp32 and every runtime and
precision (ExecuTorch-XNNPACK fp32/int8, LiteRT fp32/fp16/int8-dynamic/int8, onnxruntime fp32),
measured in the same process and interleaved round-robin, with achieved GFLOP/s against this
machine's measured fp32 matrix-multiply peak, and per-operator breakdowns where the runtime has a
profiler. Writes benchmarks/results/latency.json and prints the BENCHMARKS.md §4 tables.

    python benchmarks/bench_latency.py [--rounds 40] [--warmup 3] [--cache DIR] [--quick]

Artifacts are converted once (each in a subprocess, no drift check) into --cache (default
~/.cache/mvedge/bench_latency) and reused; random weights, seeded, so every artifact holds the
same weights as the eager model and their outputs are compared with it as a sanity check.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: no busy-waiting OpenMP workers between variants

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

from timing import interleaved, loadavg  # benchmarks/timing.py, shared by the benchmarks

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "latency.json"
THREADS = 2
MATMUL_N = 2048
MATMUL = f"torch.mm {MATMUL_N}x{MATMUL_N} fp32"
VARIANTS = [  # (name, target, precision); eager first
    ("pytorch eager fp32", None, "fp32"),
    ("executorch fp32", "executorch", "fp32"),
    ("executorch int8", "executorch", "int8"),
    ("litert fp32", "tflite", "fp32"),
    ("litert fp16", "tflite", "fp16"),
    ("litert int8-dynamic", "tflite", "int8-dynamic"),
    ("litert int8", "tflite", "int8"),
    ("litert int8 all-integer", "tflite", "int8"),
    ("onnxruntime fp32", "onnx", "fp32"),
]
OPTIONS = {"litert int8 all-integer": {"all_integer": True}}  # ConvertOptions.extra of a variant (default: none)
SEED = 0


def bundle_t():
    """MambaVision-T, 224 px, seeded random weights (the same in every process)."""
    import torch

    from mvedge.model.bundle import load_bundle

    torch.manual_seed(SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_bundle(variant="T")


def convert_one(target: str, precision: str, cache: Path, extra: dict) -> None:
    """Convert one pair into the cache (run in a subprocess: each conversion peaks at 1-2 GB)."""
    from converters.base import ConvertOptions
    from converters.pipeline import convert
    from mvedge.progress import Progress

    start = time.perf_counter()
    bundle = bundle_t()
    options = ConvertOptions(precision, bundle.image_size, extra=extra)
    artifact = convert(bundle, target, precision, cache, options, force=True, verify=False, progress=Progress(quiet=True))
    print(json.dumps({"path": str(artifact.path), "convert_seconds": round(time.perf_counter() - start, 1)}))


def ensure_artifacts(cache: Path, log: Callable[[str], None]) -> dict[str, Path]:
    """Each variant's artifact, converting the missing ones."""
    from converters.pipeline import artifact_name
    from converters.registry import get_converter

    cache.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, target, precision in VARIANTS:
        if target is None:
            continue
        extra = OPTIONS.get(name, {})
        folder = cache.joinpath(*sorted(extra))  # e.g. <cache>/all_integer/
        path = folder / artifact_name(SimpleNamespace(name="T", random_weights=True, image_size=224, size_label="224"), target, precision, get_converter(target).suffix, extra)
        if not path.exists():
            log(f"converting {name} into {folder} ...")
            command = [sys.executable, __file__, "--convert-one", target, precision, "--cache", str(folder), "--extra", json.dumps(extra)]
            proc = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
            if proc.returncode != 0:
                raise RuntimeError(f"converting {name} failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
            log(f"  {proc.stdout.strip().splitlines()[-1]}")
        paths[name] = path
    return paths


def count_flops(model, x) -> tuple[int, dict[str, int]]:
    """FLOPs of one forward (torch's FlopCounterMode: matmul, conv, bmm, ...; 2 per multiply-add)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    by_op = {str(op): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}
    return int(counter.get_total_flops()), by_op


def matmul_peak(n: int = 2048, repeats: int = 10) -> dict[str, float]:
    """fp32 GFLOP/s of torch.mm (n x n) at THREADS threads: best and median of `repeats`."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        rates.append(2 * n**3 / (time.perf_counter() - t0) / 1e9)
    return {"n": n, "gflops_max": round(max(rates), 1), "gflops_median": round(statistics.median(rates), 1)}


def eager_breakdown(model, x, runs: int = 5) -> list[dict[str, Any]]:
    """Self CPU time per aten op of the eager model (torch.profiler), mean per run."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    with torch.no_grad():
        model(x)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(runs):
                model(x)
    events = [(e.key, e.self_cpu_time_total / 1000.0 / runs) for e in prof.key_averages()]
    total = sum(ms for _, ms in events)
    events.sort(key=lambda e: -e[1])
    return [{"name": k, "ms": round(ms, 3), "share": round(ms / total, 4)} for k, ms in events if ms > 0][:25]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40, help="timed rounds (default 40)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default 3)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mvedge" / "bench_latency")
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--quick", action="store_true", help="5 rounds, 1 warm-up, no breakdowns")
    parser.add_argument("--convert-one", nargs=2, metavar=("TARGET", "PRECISION"), help=argparse.SUPPRESS)
    parser.add_argument("--extra", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.convert_one:
        convert_one(*args.convert_one, args.cache, json.loads(args.extra))
        return 0
    if args.quick:
        args.rounds, args.warmup = 5, 1

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_at_start = loadavg()
    paths = ensure_artifacts(args.cache, log)

    import numpy as np
    import torch

    from mvedge.verify.runners import open_runner

    torch.set_num_threads(THREADS)
    bundle = bundle_t()
    model = bundle.model.eval()
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    batch = x.numpy()
    flops, flops_by_op = count_flops(model, x)
    log(f"FLOPs per image: {flops / 1e9:.2f} GFLOP ({len(flops_by_op)} op kinds counted)")
    peak_before = matmul_peak()
    log(f"matmul peak before: {peak_before}")

    runners, load_ms = {}, {}
    for name, target, precision in VARIANTS:
        if target is None:
            continue
        options = {"threads": THREADS}
        t0 = time.perf_counter()
        runner = open_runner(paths[name], **options)
        load_ms[name] = (time.perf_counter() - t0) * 1000.0
        if target == "onnx":  # rebuild without spin-waiting so its idle pool does not steal the cores of the next variant
            import onnxruntime as ort

            so = ort.SessionOptions()
            so.intra_op_num_threads, so.inter_op_num_threads = THREADS, 1
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
            runner.session = ort.InferenceSession(str(paths[name]), so, providers=["CPUExecutionProvider"])
        runners[name] = runner
    from mvedge.verify.runners.executorch import set_threads

    set_threads(THREADS)  # process-wide pool, shared by both .pte

    with torch.no_grad():
        reference = model(x).numpy()
    sanity = {}
    for name, runner in runners.items():
        out = runner.run(batch)
        cos = float(np.dot(out.ravel(), reference.ravel()) / (np.linalg.norm(out) * np.linalg.norm(reference)))
        sanity[name] = {"max_abs_diff": float(np.abs(out - reference).max()), "cosine": round(cos, 6)}
        log(f"{name}: load {load_ms[name]:.0f} ms, vs eager max abs diff {sanity[name]['max_abs_diff']:.2e}, cosine {cos:.6f}")

    fns: dict[str, Callable[[], Any]] = {}
    inference = torch.inference_mode()
    inference.__enter__()
    fns["pytorch eager fp32"] = lambda: model(x)
    for name, runner in runners.items():
        fns[name] = (lambda r: lambda: r.run(batch))(runner)
    mm_a, mm_b = torch.randn(MATMUL_N, MATMUL_N), torch.randn(MATMUL_N, MATMUL_N)
    fns[MATMUL] = lambda: torch.mm(mm_a, mm_b)  # the peak, timed under the same load as the variants
    log(f"timing {len(fns)} variants: {args.warmup} warm-up + {args.rounds} timed rounds, {THREADS} threads, loadavg {loadavg()}")
    load_before = loadavg()
    t0 = time.perf_counter()
    times_s, _ = interleaved(fns, args.warmup, args.rounds, log)
    times = {name: [t * 1000.0 for t in ts] for name, ts in times_s.items()}  # ms
    timed_s = time.perf_counter() - t0
    load_after = loadavg()
    inference.__exit__(None, None, None)
    peak_after = matmul_peak()
    log(f"matmul peak after: {peak_after}")
    mm_rates = [2 * MATMUL_N**3 / (t / 1000.0) / 1e9 for t in times.pop(MATMUL)]
    peak_in_rounds = {"n": MATMUL_N, "gflops_max": round(max(mm_rates), 1), "gflops_median": round(statistics.median(mm_rates), 1)}
    peak = max(peak_before["gflops_max"], peak_after["gflops_max"], peak_in_rounds["gflops_max"])

    from mvedge.profile.schema import latency_stats

    eager_p50 = latency_stats(times["pytorch eager fp32"])["p50"]
    rows = []
    for name, target, precision in VARIANTS:
        stats = latency_stats(times[name])
        gflops = flops / (stats["p50"] / 1000.0) / 1e9
        row = {
            "name": name, "target": target or "pytorch", "precision": precision + "".join(f" {k}" for k in OPTIONS.get(name, {})),
            **{k: round(v, 2) for k, v in stats.items()},
            "samples_ms": [round(t, 3) for t in times[name]],
            "vs_eager": round(eager_p50 / stats["p50"], 3),
            "gflops": round(gflops, 1), "pct_of_matmul_peak": round(100 * gflops / peak, 1),
            "pct_of_matmul_median_same_rounds": round(100 * gflops / peak_in_rounds["gflops_median"], 1),
            "load_ms": round(load_ms[name], 1) if name in load_ms else None,
            "size_mb": round(paths[name].stat().st_size / 1e6, 1) if name in paths else None,
            **({"sanity_vs_eager": sanity[name]} if name in sanity else {}),
        }
        rows.append(row)
    by = {r["name"]: r for r in rows}
    goals = []
    for name in ("executorch fp32", "litert fp32"):
        goals.append({"goal": f"{name} no slower than PyTorch eager fp32", "value": by[name]["vs_eager"], "unit": "x eager speed", "met": by[name]["p50"] <= eager_p50})
    pairs = (("executorch int8", "executorch fp32"), ("litert int8", "litert fp32"), ("litert int8 all-integer", "litert fp32"), ("litert int8-dynamic", "litert fp32"))
    for int8, fp32 in pairs:
        ratio = by[int8]["p50"] / by[fp32]["p50"]
        goals.append({"goal": f"{int8} at most 0.6x {fp32}", "value": round(ratio, 3), "unit": "x fp32 latency", "met": ratio <= 0.6})
    for name in ("pytorch eager fp32", "executorch fp32", "litert fp32", "onnxruntime fp32"):
        goals.append({"goal": f"{name} at >= 40% of the fp32 matmul peak", "value": by[name]["pct_of_matmul_peak"], "unit": "% of peak", "met": by[name]["pct_of_matmul_peak"] >= 40})

    breakdowns: dict[str, Any] = {}
    if not args.quick:
        from mvedge.profile.breakdown import executorch as et_breakdown
        from mvedge.profile.breakdown import onnxruntime as ort_breakdown

        log("per-operator breakdowns ...")
        breakdowns["pytorch eager fp32"] = {"source": "torch.profiler self CPU time per aten op, 5 runs", "operators": eager_breakdown(model, x)}
        for name, module in (("onnxruntime fp32", ort_breakdown), ("executorch fp32", et_breakdown), ("executorch int8", et_breakdown)):
            ops, notes = module.breakdown(paths[name], batch, THREADS, 10)
            breakdowns[name] = {"source": notes[0], "operators": ops[:25]}
        for name in ("litert fp32", "litert int8"):
            breakdowns[name] = {"source": "not available: LiteRT's Python API has no per-operator profiler (benchmark_model --enable_op_profiling has)", "operators": None}

    import importlib.metadata as md

    versions = {}
    for dist in ("torch", "executorch", "ai-edge-litert", "onnxruntime"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = None
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), platform.processor())
    payload = {
        "command": "nice -n 0 python benchmarks/bench_latency.py" + (" --quick" if args.quick else ""),
        "started": started,
        "machine": {"cpu": cpu, "nproc": os.cpu_count(), "python": platform.python_version(), "versions": versions},
        "model": "MambaVision-T (random weights, seed 0)", "image_size": 224, "batch": 1, "threads": THREADS,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "onnxruntime_spinning": False,
        "warmup_rounds": args.warmup, "rounds": args.rounds, "timed_seconds": round(timed_s, 1),
        "load_average": {"at_start": load_at_start, "before_timing": load_before, "after_timing": load_after},
        "flops_per_image": flops, "flops_by_op": flops_by_op,
        "matmul_peak": {"before": peak_before, "after": peak_after, "in_rounds": peak_in_rounds, "peak_gflops": peak,
                        "definition": "best torch.mm rate seen (before, during and after the rounds); in_rounds: one mm per round, interleaved with the variants"},
        "rows": rows, "goals": goals, "breakdowns": breakdowns,
    }
    from mvedge.strict_json import write_atomic

    write_atomic(args.json, payload, indent=1, newline=False)

    print(f"\nMambaVision-T 224, batch 1, {THREADS} threads; {flops / 1e9:.2f} GFLOP/image; fp32 matmul peak {peak:.0f} GFLOP/s "
          f"(median {peak_in_rounds['gflops_median']:.0f} in the rounds); "
          f"loadavg {load_before} -> {load_after}\n")
    print("| runtime | precision | p50 ms | p90 ms | min ms | vs eager | GFLOP/s | % of matmul peak | % of matmul (same rounds) | size MB | load ms | max abs diff vs eager |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        diff = f"{r['sanity_vs_eager']['max_abs_diff']:.1e}" if "sanity_vs_eager" in r else "-"
        print(f"| {r['target']} | {r['precision']} | {r['p50']:.1f} | {r['p90']:.1f} | {r['min']:.1f} | {r['vs_eager']:.2f}x | {r['gflops']:.1f} | "
              f"{r['pct_of_matmul_peak']:.1f}% | {r['pct_of_matmul_median_same_rounds']:.1f}% | {r['size_mb'] if r['size_mb'] is not None else '-'} | {r['load_ms'] if r['load_ms'] is not None else '-'} | {diff} |")
    print("\n| goal | value | met |\n|---|---:|---|")
    for g in goals:
        print(f"| {g['goal']} | {g['value']} {g['unit']} | {'yes' if g['met'] else '**no**'} |")
    print(f"\nwrote {args.json.relative_to(REPO) if args.json.is_relative_to(REPO) else args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
