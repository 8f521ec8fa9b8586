#!/usr/bin/env python
"""Eager PyTorch speed: NVIDIA's official CPU code vs mvedge eager, before and after, in one run.

MambaVision-T at 224 px, batch 1, 2 threads, fp32, `torch.inference_mode()`. Each row runs in its
own worker process (the official venv's python, so every row has the same torch): the official
model (PyPI mambavision with mamba_ssm's `selective_scan_ref`, scripts/official_mambavision.py),
mvedge from this tree, and mvedge from any other checkout given with --before (e.g. a `git
worktree` of an older commit). Every mvedge worker loads the official model's state dict and
reports its max abs logit difference from it. The parent times one forward per worker per round,
in rotated order (benchmarks/timing.py), plus a 2048x2048 fp32 `torch.mm` row for the matmul peak.
With --profile N, each worker first reports torch.profiler op types and the time in each module
group (forward hooks) over N forwards.

    ~/.venvs/mvedge-official/bin/python benchmarks/bench_eager.py --before /tmp/mvedge-41cf3e1 [--rounds 30] [--profile 5]

Results go to benchmarks/results/eager.json (or --json OUT).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from timing import PipeWorker

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: no busy-waiting OpenMP workers between rows

REPO = Path(__file__).resolve().parents[1]

OFFICIAL_PYTHON = Path.home() / ".venvs" / "mvedge-official" / "bin" / "python"
DEFAULT_JSON = REPO / "benchmarks" / "results" / "eager.json"
THREADS = 2
MATMUL_N = 2048
FLOPS_T224 = 9.13e9  # MambaVision-T at 224 px (torch.utils.flop_counter; BENCHMARKS.md, the speed table)


def official_model() -> Any:
    """The official MambaVision-T (seed 0, eval) through scripts/official_mambavision.py."""
    import torch

    sys.path.insert(0, str(REPO / "scripts"))
    import official_mambavision as om

    om.prepare()
    torch.manual_seed(0)
    return om.official_variant("T").eval()


def mvedge_model(official: Any) -> Any:
    """mvedge's MambaVision-T (from whichever checkout is first on sys.path) with the official weights."""
    from mvedge.model.mambavision import build

    model = build("T").eval()
    model.load_state_dict(official.state_dict(), strict=True)
    return model


def worker(kind: str) -> int:
    """Run in a worker process: build the row's model, then one forward per 'run' line on stdin."""
    import torch

    torch.set_num_threads(THREADS)
    official = official_model()
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        model = official if kind == "official" else mvedge_model(official)
        diff = float((model(x) - official(x)).abs().max())
        import mvedge

        info = {"ready": True, "max_abs_logit_diff_vs_official": diff, "torch": torch.__version__,
                "mvedge": str(Path(mvedge.__file__).parents[1])}

        def profile(line: str) -> dict[str, Any]:
            ops, calls = op_times(model, x, int(line.split()[1]))
            return {"ops_ms": ops, "op_calls": calls, "modules_ms": module_times(model, x, int(line.split()[1]))}

        from timing import serve  # benchmarks/timing.py, beside this file

        return serve(lambda: model(x), info, {"profile": profile})


def row_worker(python: Path, kind: str, checkout: Path) -> PipeWorker:
    """One row's forward (kind "official" or "mvedge", mvedge from `checkout`) in its own process."""
    from timing import PipeWorker

    return PipeWorker([str(python), __file__, "--worker", kind], checkout, checkout, f"{kind} ({checkout})")


# --- profiles ----------------------------------------------------------------------------------

def module_of(path: str) -> str:
    """The profile group of an innermost module path (mixer parts by name, the rest by kind)."""
    parts = path.split(".")
    if path.startswith("patch_embed"):
        return "stem"
    if path.startswith(("levels.0.", "levels.1.")) or "downsample" in parts:
        return "stages 1-2 conv blocks, downsamples"
    if "mixer" in parts:
        tail = parts[parts.index("mixer") + 1:]
        name = tail[0] if tail else "mixer (rest)"
        return {"conv1d_x": "mixer conv1d", "conv1d_z": "mixer conv1d", "scan": "mixer scan", "qkv": "attention qkv",
                "proj": "attention proj"}.get(name, f"mixer {name}" if name in ("in_proj", "x_proj", "dt_proj", "out_proj") else name)
    if "mlp" in parts:
        return "mlp (fc1, GELU, fc2)"
    if parts[-1] in ("norm1", "norm2"):
        return "block layer norms"
    if len(parts) >= 4 and parts[2] == "blocks":
        return "block (rest: residuals)"
    if len(parts) == 2 and parts[0] == "levels":
        return "window partition/reverse, padding"
    return "head (norm, pool, linear)" if parts[0] in ("norm", "avgpool", "head") else "other"


def module_times(model: Any, x: Any, rounds: int) -> dict[str, float]:
    """ms per forward spent in each module group, by the innermost module running (forward hooks)."""
    import torch

    acc: dict[str, float] = defaultdict(float)
    stack: list[tuple[str, float]] = []

    def pre(path: str) -> Callable:
        def hook(module: Any, args: Any) -> None:
            now = time.perf_counter()
            if stack:
                acc[module_of(stack[-1][0])] += now - stack[-1][1]
            stack.append((path, now))
        return hook

    def post(module: Any, args: Any, out: Any) -> None:
        now = time.perf_counter()
        path, t0 = stack.pop()
        acc[module_of(path)] += now - t0
        if stack:
            stack[-1] = (stack[-1][0], now)

    hooks = []
    for path, module in model.named_modules():
        if path:
            hooks += [module.register_forward_pre_hook(pre(path)), module.register_forward_hook(post)]
    with torch.inference_mode():
        model(x)
        acc.clear()
        t0 = time.perf_counter()
        for _ in range(rounds):
            model(x)
        total = time.perf_counter() - t0
    for h in hooks:
        h.remove()
    out = {k: v / rounds * 1e3 for k, v in sorted(acc.items(), key=lambda kv: -kv[1])}
    out["(outside any module)"] = total / rounds * 1e3 - sum(out.values())
    return out


def op_times(model: Any, x: Any, rounds: int) -> tuple[dict[str, float], dict[str, int]]:
    """Self CPU ms per forward and calls per forward of each aten op type (torch.profiler)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    with torch.inference_mode():
        model(x)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(rounds):
                model(x)
    rows = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    return ({e.key: e.self_cpu_time_total / 1e3 / rounds for e in rows if e.self_cpu_time_total > 0},
            {e.key: e.count // rounds for e in rows})


def profile_tables(profiles: dict[str, dict[str, Any]], top: int = 16) -> str:
    """Markdown: op types (ms per forward, share, calls) and module groups, every profiled row side by side."""
    names = list(profiles)
    lines = []
    for what, key in (("op type", "ops_ms"), ("module", "modules_ms")):
        totals = {n: sum(max(v, 0.0) for v in profiles[n][key].values()) for n in names}
        keys = sorted({k for n in names for k in profiles[n][key]}, key=lambda k: -max(profiles[n][key].get(k, 0.0) for n in names))[:top]
        calls = key == "ops_ms"
        lines += ["| " + what + " | " + " | ".join(f"{n}: ms | %" for n in names) + " |" + (" calls per forward |" if calls else ""),
                  "|---|" + "---:|---:|" * len(names) + ("---|" if calls else "")]
        for k in keys:
            row = f"| {k} | " + " | ".join(f"{profiles[n][key].get(k, 0.0):.1f} | {100 * profiles[n][key].get(k, 0.0) / totals[n]:.0f}%" for n in names) + " |"
            if calls:
                row += " " + " / ".join(str(profiles[n]["op_calls"].get(k, 0)) for n in names) + " |"
            lines.append(row)
        lines += ["| total | " + " | ".join(f"{totals[n]:.1f} | 100%" for n in names) + " |" + (" |" if calls else ""), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--before", type=Path, action="append", default=[],
                        help="another mvedge checkout to time as a row (repeatable), e.g. a git worktree of an older commit")
    parser.add_argument("--official-python", type=Path, default=OFFICIAL_PYTHON,
                        help="python of the venv made by scripts/setup_official_env.sh (default ~/.venvs/mvedge-official/bin/python)")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="first profile every row over N forwards (0: no profile)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--worker", choices=["official", "mvedge"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker)

    import torch

    sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]  # the parent's mvedge and timing.py (a worker's mvedge is its checkout's)
    from timing import cpu_name, interleaved, loadavg, summarize

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    torch.set_num_threads(THREADS)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    command = "python " + " ".join([os.path.relpath(__file__, REPO)] + (argv if argv is not None else sys.argv[1:]))
    payload: dict[str, Any] = {"command": command, "started": started, "cpu": cpu_name(), "nproc": os.cpu_count(), "threads": THREADS,
                               "model": "MambaVision-T, 224 px, batch 1, fp32, official random weights (seed 0)"}
    rows = {"official code (CPU)": row_worker(args.official_python, "official", REPO)}
    for path in args.before:
        rows[f"mvedge eager ({path.name})"] = row_worker(args.official_python, "mvedge", path.resolve())
    rows["mvedge eager (this tree)"] = row_worker(args.official_python, "mvedge", REPO)
    for name, w in rows.items():
        log(f"{name}: {w.info}")
    if args.profile:
        log(f"profiling every row over {args.profile} forwards (op types), then {args.profile} more (modules)")
        payload["profile"] = {name: w.request(f"profile {args.profile}") for name, w in rows.items()}
        print(profile_tables(payload["profile"]))
    mm_a, mm_b = torch.randn(MATMUL_N, MATMUL_N), torch.randn(MATMUL_N, MATMUL_N)
    fns: dict[str, Callable[[], Any]] = dict(rows)
    fns["torch.mm"] = lambda: torch.mm(mm_a, mm_b)
    load_before = loadavg()
    times, probes = interleaved(fns, args.warmup, args.rounds, log)
    load_after = loadavg()
    for w in rows.values():
        w.close()
    stats = {k: summarize(v) for k, v in times.items()}
    peak = 2 * MATMUL_N**3 / (stats["torch.mm"]["min_ms"] / 1e3)
    official_ms = stats["official code (CPU)"]["median_ms"]
    payload.update({
        "rounds": args.rounds, "warmup": args.warmup, "loadavg": [load_before, load_after],
        "probe_median_ms": sorted(probes)[len(probes) // 2] * 1e3,
        "matmul_peak_gflops": peak / 1e9,
        "rows": {k: {**stats[k], "vs_official": stats[k]["median_ms"] / official_ms,
                     "pct_of_matmul_peak": 100 * FLOPS_T224 / (stats[k]["median_ms"] / 1e3) / peak,
                     "worker": rows[k].info} for k in rows},
    })
    print(f"\n{cpu_name()}, {os.cpu_count()} cores, {THREADS} threads, {args.rounds} rounds, loadavg {load_before} -> {load_after}; "
          f"fp32 torch.mm peak (best round) {peak / 1e9:.0f} GFLOP/s\n")
    print("| row | ms (median) | min ms | vs official | % of matmul peak |\n|---|---:|---:|---:|---:|")
    for k, r in payload["rows"].items():
        print(f"| {k} | {r['median_ms']:.1f} | {r['min_ms']:.1f} | {r['vs_official']:.2f}x | {r['pct_of_matmul_peak']:.0f}% |")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.json.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    tmp.replace(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
