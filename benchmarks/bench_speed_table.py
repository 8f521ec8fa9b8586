#!/usr/bin/env python
"""The speed table: MambaVision-T at 224 px, batch 1, 2 threads, measured side by side in one run.

Rows: NVIDIA's official code on CPU (PyPI mambavision, its CUDA scan swapped for mamba_ssm's
`selective_scan_ref`, run by a worker process in the separate venv of scripts/setup_official_env.sh),
mvedge eager (PyTorch fp32, inference mode, in a worker process of this venv timed the same way,
so that neither model shares its process with the runtimes' thread pools), ExecuTorch-XNNPACK fp32/int8, LiteRT fp32/fp16/int8 and onnxruntime
fp32, plus a torch.mm probe. Every round runs each once, in an order rotated each round
(benchmarks/timing.py); the table gives the median and the nearest-rank p90 (as `mvedge profile`),
the ratio to the official code and to eager, and the share of the fp32 matmul peak measured in
the same run (the model's FLOPs per second against the best torch.mm rate seen), with the
delegate partitions and the nodes left outside the delegate of each exported artifact.

Random weights (seeded) in every row: speed does not depend on them; the runtimes' outputs are
compared with eager's as a sanity check (the official model has its own random weights).

    python benchmarks/bench_speed_table.py [--rounds 30] [--warmup 3] [--official-python PATH]

Artifacts are converted once (each in a subprocess, no drift check) into --cache (default
~/.cache/mvedge/speed_table) and reused. Results: benchmarks/results/speed_table.json.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: no busy-waiting OpenMP workers between rows

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

from timing import PipeWorker, cpu_name, interleaved, loadavg, serve, summarize  # benchmarks/timing.py

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "speed_table.json"
OFFICIAL_PYTHON = Path.home() / ".venvs" / "mvedge-official" / "bin" / "python"
THREADS = 2
MATMUL_N = 2048
OFFICIAL = "official code (CPU)"
EAGER = "mvedge eager"
ROWS = [  # (name, target, precision); None target: not an artifact
    (OFFICIAL, None, "fp32"),
    (EAGER, None, "fp32"),
    ("ExecuTorch-XNNPACK", "executorch", "fp32"),
    ("ExecuTorch-XNNPACK", "executorch", "int8"),
    ("LiteRT (XNNPACK)", "tflite", "fp32"),
    ("LiteRT (XNNPACK)", "tflite", "fp16"),
    ("LiteRT (XNNPACK)", "tflite", "int8"),
    ("onnxruntime", "onnx", "fp32"),
]


def key(name: str, precision: str) -> str:
    return f"{name} {precision}"


# --- the official model, in its own venv ------------------------------------------------------


def official_worker() -> int:
    """Run in the official venv: build the official MambaVision-T, then one forward per 'run' line
    on stdin, answering 'ok' (the parent times the round trip)."""
    import torch

    sys.path.insert(0, str(REPO / "scripts"))
    import official_mambavision as om

    om.prepare()
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    model = om.official_variant("T").eval()
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        model(x)
        return serve(lambda: model(x), {"ready": True, "versions": om.versions(), "torch": torch.__version__})


def eager_worker() -> int:
    """Run in this venv: mvedge's MambaVision-T in eager PyTorch (inference mode), then one forward
    per 'run' line on stdin, answering 'ok': timed exactly as the official model is, in a process
    of its own, so neither shares its cores with the exported runtimes' thread pools."""
    import torch

    from bench_latency import bundle_t

    torch.set_num_threads(THREADS)
    model = bundle_t().model.eval()
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        model(x)
        return serve(lambda: model(x), {"ready": True, "torch": torch.__version__})


def worker(python: Path, role: str) -> PipeWorker:
    """The official code's (role "official") or mvedge eager's ("eager") forward in its own process."""
    if not python.exists():
        raise SystemExit(f"{python} not found: make the official venv with scripts/setup_official_env.sh or pass --official-python")
    return PipeWorker([str(python), __file__, f"--{role}-worker"], REPO, REPO, role)


# --- artifacts and their partitions -----------------------------------------------------------


def ensure_artifacts(cache: Path, log: Callable[[str], None], rows: list[tuple[str, str | None, str]] = ROWS) -> dict[str, Path]:
    """Each exported row's artifact, converting the missing ones (bench_latency.py --convert-one)."""
    from converters.pipeline import artifact_name
    from converters.registry import get_converter

    cache.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, target, precision in rows:
        if target is None:
            continue
        path = cache / artifact_name(SimpleNamespace(name="T", random_weights=True, image_size=224, size_label="224"), target, precision, get_converter(target).suffix, {})
        if not path.exists():
            log(f"converting {target} {precision} into {cache} ...")
            command = [sys.executable, str(REPO / "benchmarks" / "bench_latency.py"), "--convert-one", target, precision, "--cache", str(cache), "--extra", "{}"]
            proc = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
            if proc.returncode != 0:
                raise RuntimeError(f"converting {target} {precision} failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
        paths[key(name, precision)] = path
    return paths


def partitions(target: str, path: Path, runner: Any) -> dict[str, Any] | None:
    """Delegate partitions and nodes outside the delegate, counted on the artifact itself (the same
    counts the converters write into the sidecar)."""
    if target == "executorch":
        from converters.executorch import plan_partitions

        return plan_partitions(path.read_bytes())
    if target == "tflite":
        return runner.partitions()
    return None


# --- the run ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="timed rounds (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default 3)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mvedge" / "speed_table", help="converted artifacts")
    parser.add_argument("--official-python", type=Path, default=OFFICIAL_PYTHON,
                        help="python of the venv made by scripts/setup_official_env.sh (default ~/.venvs/mvedge-official/bin/python)")
    parser.add_argument("--json", type=Path, default=RESULTS, help="results file (default benchmarks/results/speed_table.json)")
    parser.add_argument("--official-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--eager-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.official_worker:
        return official_worker()
    if args.eager_worker:
        return eager_worker()

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    paths = ensure_artifacts(args.cache, log)

    import numpy as np
    import torch

    from bench_latency import bundle_t, count_flops, matmul_peak
    from mvedge.verify.runners import open_runner
    from mvedge.verify.runners.executorch import set_threads

    torch.set_num_threads(THREADS)
    model = bundle_t().model.eval()
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    batch = x.numpy()
    flops, _ = count_flops(model, x)
    log(f"FLOPs per image: {flops / 1e9:.2f} GFLOP")

    runners, counts, sanity = {}, {}, {}
    with torch.no_grad():
        reference = model(x).numpy()
    for name, target, precision in ROWS:
        if target is None:
            continue
        k = key(name, precision)
        runner = open_runner(paths[k], threads=THREADS)
        if target == "onnx":  # no spin-waiting: its idle pool must not steal the cores of the next row
            import onnxruntime as ort

            so = ort.SessionOptions()
            so.intra_op_num_threads, so.inter_op_num_threads = THREADS, 1
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
            runner.session = ort.InferenceSession(str(paths[k]), so, providers=["CPUExecutionProvider"])
        runners[k] = runner
        counts[k] = partitions(target, paths[k], runner)
        out = runner.run(batch)
        cosine = float(np.dot(out.ravel(), reference.ravel()) / (np.linalg.norm(out) * np.linalg.norm(reference)))
        sanity[k] = {"max_abs_diff_vs_eager": float(np.abs(out - reference).max()), "cosine_vs_eager": round(cosine, 6)}
        log(f"{k}: cosine vs eager {cosine:.6f}; partitions {counts[k]}")
    set_threads(THREADS)  # ExecuTorch's process-wide pool, shared by both .pte

    official = worker(args.official_python, "official")
    log(f"official worker ready: {official.info}")
    eager = worker(Path(sys.executable), "eager")
    del model  # the eager worker holds its own copy
    peak_before = matmul_peak(MATMUL_N)
    mm_a, mm_b = torch.randn(MATMUL_N, MATMUL_N), torch.randn(MATMUL_N, MATMUL_N)
    fns: dict[str, Callable[[], Any]] = {key(OFFICIAL, "fp32"): official, key(EAGER, "fp32"): eager}
    for k, runner in runners.items():
        fns[k] = (lambda r: lambda: r.run(batch))(runner)
    fns["torch.mm"] = lambda: torch.mm(mm_a, mm_b)
    load_before = loadavg()
    log(f"timing {len(fns)} rows: {args.warmup} warm-up + {args.rounds} rounds, {THREADS} threads, loadavg {load_before}")
    t0 = time.perf_counter()
    times, probes = interleaved(fns, args.warmup, args.rounds, log)
    timed_s = time.perf_counter() - t0
    load_after = loadavg()
    official.close()
    eager.close()
    peak_after = matmul_peak(MATMUL_N)
    mm_rates = [2 * MATMUL_N**3 / t / 1e9 for t in times.pop("torch.mm")]
    peak = max(peak_before["gflops_max"], peak_after["gflops_max"], max(mm_rates))

    stats = {k: summarize(v) for k, v in times.items()}
    official_ms, eager_ms = stats[key(OFFICIAL, "fp32")]["median_ms"], stats[key(EAGER, "fp32")]["median_ms"]
    rows = []
    for name, target, precision in ROWS:
        k = key(name, precision)
        s = stats[k]
        gflops = flops / (s["median_ms"] / 1e3) / 1e9
        rows.append({
            "name": name, "target": target, "precision": precision,
            "median_ms": round(s["median_ms"], 2), "p90_ms": round(s["p90_ms"], 2), "min_ms": round(s["min_ms"], 2), "n": s["n"],
            "vs_official": round(s["median_ms"] / official_ms, 3), "vs_eager": round(s["median_ms"] / eager_ms, 3),
            "gflops": round(gflops, 1), "pct_of_matmul_peak": round(100 * gflops / peak, 1),
            "partitions": counts.get(k), **sanity.get(k, {}),
        })
    by = {key(r["name"], r["precision"]): r for r in rows}

    def ratio(a: str, b: str) -> float:
        return round(by[a]["median_ms"] / by[b]["median_ms"], 3)

    et, lt = "ExecuTorch-XNNPACK", "LiteRT (XNNPACK)"
    goals = [
        {"goal": "mvedge eager at most 0.5x the official code's time", "value": ratio(key(EAGER, "fp32"), key(OFFICIAL, "fp32"))},
        {"goal": "ExecuTorch int8 at most 0.5x its fp32", "value": ratio(key(et, "int8"), key(et, "fp32"))},
        {"goal": "LiteRT int8 at most 0.5x its fp32", "value": ratio(key(lt, "int8"), key(lt, "fp32"))},
    ]
    for g in goals:
        g["met"] = g["value"] <= 0.5
    for name in (et, lt):
        value = by[key(name, "fp32")]["pct_of_matmul_peak"]
        goals.append({"goal": f"{name} fp32 at >= 55% of the matmul peak", "value": value, "met": value >= 55})

    import importlib.metadata as md

    versions = {}
    for dist in ("torch", "executorch", "ai-edge-litert", "onnxruntime"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = None
    payload = {
        "command": "python benchmarks/bench_speed_table.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:])),
        "started": started,
        "machine": {"cpu": cpu_name(), "nproc": os.cpu_count(), "versions": versions, "official": official.info},
        "model": "MambaVision-T, random weights (seeded)", "image_size": 224, "batch": 1, "threads": THREADS,
        "rounds": args.rounds, "warmup": args.warmup, "timed_seconds": round(timed_s, 1),
        "load_average": {"before": load_before, "after": load_after}, "probe": summarize(probes),
        "flops_per_image": flops,
        "matmul_peak": {"gflops": round(peak, 1), "before": peak_before, "after": peak_after,
                        "in_rounds_median": round(statistics.median(mm_rates), 1),
                        "definition": f"best fp32 torch.mm {MATMUL_N}x{MATMUL_N} rate seen at {THREADS} threads (before, in and after the rounds)"},
        "rows": rows, "goals": goals,
    }
    from mvedge.strict_json import write_atomic

    write_atomic(args.json, payload, indent=1)
    print(table(payload))
    return 0


def table(payload: dict) -> str:
    """The markdown table and its caption."""
    la = payload["load_average"]
    lines = [
        f"MambaVision-T, 224 px, batch 1, {payload['threads']} threads, random weights; {payload['machine']['cpu']} "
        f"({payload['machine']['nproc']} cores, load average {la['before'][0]:.2f} before, "
        f"{la['after'][0]:.2f} after); {payload['flops_per_image'] / 1e9:.2f} GFLOP per image; fp32 torch.mm peak "
        f"{payload['matmul_peak']['gflops']:.0f} GFLOP/s; median and p90 of {payload['rounds']} interleaved rounds, {payload['started']}.",
        "",
        "| row | precision | ms (median) | p90 ms | vs official | vs eager | % of matmul peak | delegate partitions | nodes outside the delegate |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in payload["rows"]:
        p = r["partitions"]
        outside = "-" if p is None else (f"{p['nodes_outside']}" + (f" ({', '.join(f'{k} {v}' for k, v in p['ops_outside'].items())})" if p["ops_outside"] else ""))
        lines.append(f"| {r['name']} | {r['precision']} | {r['median_ms']:.1f} | {r['p90_ms']:.1f} | {r['vs_official']:.2f}x | {r['vs_eager']:.2f}x | "
                     f"{r['pct_of_matmul_peak']:.0f}% | {'-' if p is None else p['partitions']} | {outside} |")
    lines += ["", "| goal | value | met |", "|---|---:|---|"]
    lines += [f"| {g['goal']} | {g['value']} | {'yes' if g['met'] else '**no**'} |" for g in payload["goals"]]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
