#!/usr/bin/env python
"""Selective scan benchmark: the chunked scan (several chunk sizes) vs the sequential reference.

Shapes are MambaVision-T's Mamba stages at 224 px, batch 1:
  stage 3: d=160 channels, n=8 states, L=196 tokens (one 14x14 window), 4 Mamba blocks
  stage 4: d=320 channels, n=8 states, L=49 tokens (one 7x7 window),  2 Mamba blocks

Measured per stage and variant:
  * eager CPU time (torch.set_num_threads(2), no_grad), all variants interleaved round by round;
  * ExecuTorch + XNNPACK: call_function node count of the exported program after
    run_decompositions() and of the edge program before lowering (to_edge), conversion time
    (torch.export + to_edge_transform_and_lower + to_executorch), run time in the ExecuTorch
    Python runtime (interleaved), the .pte's agreement with eager, and the delegation report
    (which ops are NOT delegated to XNNPACK).

The chunked variants run `chunked_scan_bld` (token-major, what the model exports); the sequential
variant runs `selective_scan_reference` (mamba_ssm layout, loop over L: unrolled when exported).

Usage:
  python benchmarks/bench_scan.py                 # full run, writes benchmarks/results/scan.json
  python benchmarks/bench_scan.py --quick         # short run (fewer repeats and chunk sizes)
  python benchmarks/bench_scan.py --json OUT.json # write the results elsewhere
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from mvedge.model.scan import DEFAULT_CHUNK_SIZE, chunked_scan_bld, selective_scan_reference

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "scan.json"
THREADS = 2

STAGES: dict[str, dict[str, int]] = {
    "stage3": {"d": 160, "n": 8, "L": 196, "blocks": 4},
    "stage4": {"d": 320, "n": 8, "L": 49, "blocks": 2},
}
CHUNK_SIZES = (7, 14, 28, 49, 98, 196)
QUICK_CHUNK_SIZES = (14, 49)
SEQ = "sequential"

# Goals (from the project brief)
GOAL_NODE_RATIO = 0.1  # exported chunked graph: at most 1/10 of the unrolled sequential nodes
GOAL_ET_SPEEDUP = 2.0  # exported chunked scan runs at least 2x faster than the sequential one
GOAL_EAGER_SPEEDUP = 1.0  # eager: no slower than the sequential loop


# ---------------------------------------------------------------------------------------------
# inputs and modules


def make_inputs(d: int, n: int, L: int, seed: int = 0) -> dict[str, Tensor]:
    """Realistic scan inputs in mamba_ssm layout: u, delta (1, d, L); A (d, n); B, C (1, n, L).

    Raw delta is uniform in [-6, 1] (softplus(delta + bias) then spans ~0.0025..1.3, as in trained
    MambaVision layers); A = -exp(log(1..n)) per channel (the mamba_ssm S4D-real init).
    """
    g = torch.Generator().manual_seed(seed)
    return {
        "u": torch.randn(1, d, L, generator=g),
        "delta": torch.rand(1, d, L, generator=g) * 7.0 - 6.0,
        "A": -torch.exp(torch.log(torch.arange(1, n + 1, dtype=torch.float32))).repeat(d, 1).contiguous(),
        "B": torch.randn(1, n, L, generator=g),
        "C": torch.randn(1, n, L, generator=g),
        "D": torch.randn(d, generator=g),
        "delta_bias": torch.randn(d, generator=g) * 0.1,
    }


def token_major(x: Tensor) -> Tensor:
    return x.transpose(1, 2).contiguous()


class _ScanBase(nn.Module):
    """Holds A, D and delta_bias as buffers (they are weights in the model); u, delta, B, C are inputs."""

    def __init__(self, A: Tensor, D: Tensor, delta_bias: Tensor) -> None:
        super().__init__()
        self.register_buffer("A", A.clone())
        self.register_buffer("D", D.clone())
        self.register_buffer("delta_bias", delta_bias.clone())


class ChunkedScan(_ScanBase):
    """`chunked_scan_bld`, token-major: u, delta (b, L, d); B, C (b, L, n) -> y (b, L, d)."""

    def __init__(self, A: Tensor, D: Tensor, delta_bias: Tensor, chunk_size: int) -> None:
        super().__init__(A, D, delta_bias)
        self.chunk_size = chunk_size

    def forward(self, u: Tensor, delta: Tensor, B: Tensor, C: Tensor) -> Tensor:
        return chunked_scan_bld(u, delta, self.A, B, C, self.D, self.delta_bias, True, self.chunk_size)


class SequentialScan(_ScanBase):
    """`selective_scan_reference`, mamba_ssm layout: u, delta (b, d, L); B, C (b, n, L) -> y (b, d, L)."""

    def forward(self, u: Tensor, delta: Tensor, B: Tensor, C: Tensor) -> Tensor:
        return selective_scan_reference(u, delta, self.A, B, C, self.D, self.delta_bias, True)


def variants_for(stage: dict[str, int], chunk_sizes: tuple[int, ...], inp: dict[str, Tensor]):
    """name -> (module, args, to_channel_major) for a stage; chunk sizes > L are skipped."""
    L = stage["L"]
    out: dict[str, tuple[nn.Module, tuple[Tensor, ...], Callable[[Tensor], Tensor]]] = {}
    seq_args = (inp["u"], inp["delta"], inp["B"], inp["C"])
    out[SEQ] = (SequentialScan(inp["A"], inp["D"], inp["delta_bias"]).eval(), seq_args, lambda y: y)
    tm_args = tuple(token_major(t) for t in seq_args)
    for T in chunk_sizes:
        if T > L:
            continue
        mod = ChunkedScan(inp["A"], inp["D"], inp["delta_bias"], T).eval()
        out[f"chunk{T}"] = (mod, tm_args, lambda y: y.transpose(1, 2))
    return out


# ---------------------------------------------------------------------------------------------
# timing helpers


def summarize(times_s: list[float]) -> dict[str, float]:
    ms = sorted(t * 1e3 for t in times_s)
    return {
        "median_ms": statistics.median(ms),
        "min_ms": ms[0],
        "p90_ms": ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))],
        "n": len(ms),
    }


def interleaved(fns: dict[str, Callable[[], Any]], warmup: int, repeats: int) -> dict[str, list[float]]:
    """Run every fn once per round (order rotated each round), so all see the same machine state."""
    names = list(fns)
    times: dict[str, list[float]] = {k: [] for k in names}
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for r in range(warmup + repeats):
            k = r % len(names)
            for name in names[k:] + names[:k]:
                t0 = time.perf_counter()
                fns[name]()
                dt = time.perf_counter() - t0
                if r >= warmup:
                    times[name].append(dt)
    finally:
        if gc_was:
            gc.enable()
    return times


def count_call_functions(gm: torch.fx.GraphModule) -> int:
    return sum(1 for node in gm.graph.nodes if node.op == "call_function")


# ---------------------------------------------------------------------------------------------
# ExecuTorch


def export_and_lower(module: nn.Module, args: tuple[Tensor, ...]) -> tuple[dict[str, Any], bytes]:
    """Export + lower one variant; returns (info, pte bytes)."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.devtools.backend_debug import get_delegation_info
    from executorch.exir import to_edge, to_edge_transform_and_lower

    info: dict[str, Any] = {}
    t0 = time.perf_counter()
    ep = torch.export.export(module, args)
    t1 = time.perf_counter()
    lowered = to_edge_transform_and_lower(ep, partitioner=[XnnpackPartitioner()])
    t2 = time.perf_counter()
    # delegation report on the lowered edge program (to_executorch adds memory-planning nodes)
    deleg = get_delegation_info(lowered.exported_program().graph_module)
    t3 = time.perf_counter()
    et = lowered.to_executorch()
    t4 = time.perf_counter()
    info["export_s"] = t1 - t0
    info["lower_s"] = (t2 - t1) + (t4 - t3)
    info["convert_s"] = info["export_s"] + info["lower_s"]
    info["pte_bytes"] = len(et.buffer)

    # node counts (not part of the conversion time)
    info["exported_nodes"] = count_call_functions(ep.graph_module)
    info["aten_nodes"] = count_call_functions(ep.run_decompositions().graph_module)
    t3 = time.perf_counter()
    info["edge_nodes"] = count_call_functions(to_edge(ep).exported_program().graph_module)
    info["to_edge_s"] = time.perf_counter() - t3

    not_delegated = {}
    for row in deleg.delegation_by_operator.values():
        # getitem only unpacks the delegate's output tuple: bookkeeping, not an operator
        if row.non_delegated and row.op_type != "getitem":
            not_delegated[row.op_type] = row.non_delegated
    info["delegated_subgraphs"] = deleg.num_delegated_subgraphs
    info["delegated_nodes"] = deleg.num_delegated_nodes
    info["non_delegated_nodes"] = sum(not_delegated.values())
    info["not_delegated"] = dict(sorted(not_delegated.items(), key=lambda kv: (-kv[1], kv[0])))
    return info, et.buffer


def et_runtime():
    from executorch.runtime import Runtime

    try:  # the XNNPACK threadpool of the pybind runtime; default is the core count
        from executorch.extension.pybindings import portable_lib

        portable_lib._unsafe_reset_threadpool(THREADS)
        threads = portable_lib._threadpool_get_thread_count()
    except Exception:  # noqa: BLE001 - informative only
        threads = None
    return Runtime.get(), threads


# ---------------------------------------------------------------------------------------------
# main benchmark


def bench_stage(
    name: str, stage: dict[str, int], chunk_sizes: tuple[int, ...], warmup: int, repeats: int,
    et_repeats: int, do_export: bool, log: Callable[[str], None],
) -> dict[str, Any]:
    inp = make_inputs(stage["d"], stage["n"], stage["L"], seed=stage["L"])
    variants = variants_for(stage, chunk_sizes, inp)
    res: dict[str, Any] = {"shape": {k: stage[k] for k in ("d", "n", "L")}, "blocks": stage["blocks"]}

    # accuracy against a float64 sequential reference
    ref64 = selective_scan_reference(*(inp[k].double() for k in ("u", "delta", "A", "B", "C", "D", "delta_bias")))
    scale = float(ref64.abs().max())
    acc = {}
    with torch.no_grad():
        for vname, (mod, args, to_cm) in variants.items():
            y = to_cm(mod(*args))
            acc[vname] = float((y.double() - ref64).abs().max()) / scale
    res["max_rel_err_vs_fp64"] = acc

    # eager, interleaved
    log(f"[{name}] eager: {len(variants)} variants x {repeats} (+{warmup} warm-up)")
    with torch.no_grad():
        fns = {v: (lambda m=m, a=a: m(*a)) for v, (m, a, _) in variants.items()}
        times = interleaved(fns, warmup, repeats)
    eager = {v: summarize(t) for v, t in times.items()}
    for v in eager:
        eager[v]["speedup_vs_seq"] = eager[SEQ]["median_ms"] / eager[v]["median_ms"]
    res["eager"] = eager

    if not do_export:
        return res

    # ExecuTorch: export + lower each variant, then run all programs interleaved
    runtime, et_threads = et_runtime()
    res["et_threads"] = et_threads
    export: dict[str, Any] = {}
    methods = {}
    eager_out = {}
    for vname, (mod, args, _) in variants.items():
        log(f"[{name}] export+lower {vname} ...")
        info, pte = export_and_lower(mod, args)
        program = runtime.load_program(pte)
        method = program.load_method("forward")
        out = method.execute(list(args))[0]
        with torch.no_grad():
            eager_out[vname] = mod(*args)
        info["max_abs_diff_vs_eager"] = float((out - eager_out[vname]).abs().max())
        export[vname] = info
        methods[vname] = (program, method, list(args))
        log(
            f"[{name}]   {vname}: {info['aten_nodes']} aten nodes, {info['edge_nodes']} edge nodes, "
            f"convert {info['convert_s']:.1f} s, not delegated: {info['not_delegated'] or 'none'}"
        )
    log(f"[{name}] ExecuTorch run: {len(methods)} programs x {et_repeats} (+{warmup} warm-up)")
    fns = {v: (lambda m=m, a=a: m.execute(a)) for v, (_, m, a) in methods.items()}
    et_times = interleaved(fns, warmup, et_repeats)
    for v, t in et_times.items():
        export[v].update({f"run_{k}": val for k, val in summarize(t).items()})
    seq = export[SEQ]
    for v, info in export.items():
        info["node_ratio_vs_seq"] = info["aten_nodes"] / seq["aten_nodes"]
        info["edge_node_ratio_vs_seq"] = info["edge_nodes"] / seq["edge_nodes"]
        info["convert_speedup_vs_seq"] = seq["convert_s"] / info["convert_s"]
        info["run_speedup_vs_seq"] = seq["run_median_ms"] / info["run_median_ms"]
    res["executorch"] = export
    return res


def evaluate(results: dict[str, Any], chunk_sizes: tuple[int, ...]) -> dict[str, Any]:
    """Goals per stage and chunk size, and the recommended chunk size (min model-weighted ET time)."""
    goals: dict[str, Any] = {}
    totals: dict[int, dict[str, float]] = {}
    for T in chunk_sizes:
        per_stage = {}
        eager_total = et_total = 0.0
        ok_all = True
        for sname, st in results["stages"].items():
            v = f"chunk{min(T, st['shape']['L'])}"
            if v not in st["eager"]:
                ok_all = False
                continue
            e = st["eager"][v]
            g = {"variant": v, "eager_speedup": e["speedup_vs_seq"], "eager_ok": e["speedup_vs_seq"] >= GOAL_EAGER_SPEEDUP}
            eager_total += st["blocks"] * e["median_ms"]
            if "executorch" in st:
                x = st["executorch"][v]
                g.update(
                    node_ratio=x["node_ratio_vs_seq"], nodes_ok=x["node_ratio_vs_seq"] <= GOAL_NODE_RATIO,
                    et_speedup=x["run_speedup_vs_seq"], et_ok=x["run_speedup_vs_seq"] >= GOAL_ET_SPEEDUP,
                    fully_delegated=x["non_delegated_nodes"] == 0,
                )
                et_total += st["blocks"] * x["run_median_ms"]
            g["all_ok"] = all(val for key, val in g.items() if key.endswith("_ok"))
            ok_all = ok_all and g["all_ok"]
            per_stage[sname] = g
        goals[f"chunk{T}"] = {"stages": per_stage, "all_ok": ok_all}
        totals[T] = {"eager_model_ms": eager_total, "et_model_ms": et_total}
    have_et = all("executorch" in st for st in results["stages"].values())
    key = "et_model_ms" if have_et else "eager_model_ms"
    candidates = [T for T in chunk_sizes if all(f"chunk{min(T, st['shape']['L'])}" in st["eager"] for st in results["stages"].values())]
    best = min(candidates, key=lambda T: (totals[T][key], totals[T]["eager_model_ms"])) if candidates else None
    return {
        "goals": goals,
        "scan_time_per_forward": {f"chunk{T}": totals[T] for T in chunk_sizes},
        "recommended_chunk_size": best,
        "recommended_by": key + " (sum over the Mamba blocks of one MambaVision-T forward: 4 x stage 3 + 2 x stage 4)",
        "current_default": DEFAULT_CHUNK_SIZE,
    }


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import executorch  # noqa: F401

    try:
        from importlib.metadata import version

        et_version = version("executorch")
    except Exception:  # noqa: BLE001
        et_version = "unknown"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "executorch": et_version,
        "torch_threads": torch.get_num_threads(),
    }


def markdown(results: dict[str, Any]) -> str:
    lines = []
    for sname, st in results["stages"].items():
        s = st["shape"]
        lines.append(f"### {sname}: d={s['d']}, n={s['n']}, L={s['L']} (batch 1)\n")
        has_et = "executorch" in st
        hdr = "| variant | eager median ms | eager speedup vs seq |"
        sep = "|---|---:|---:|"
        if has_et:
            hdr += " aten nodes | edge nodes | node ratio | convert s | ET run median ms | ET speedup vs seq | not delegated |"
            sep += "---:|---:|---:|---:|---:|---:|---|"
        hdr += " max rel err vs fp64 |"
        sep += "---:|"
        lines += [hdr, sep]
        for v, e in st["eager"].items():
            row = f"| {v} | {e['median_ms']:.3f} | {e['speedup_vs_seq']:.2f}x |"
            if has_et:
                x = st["executorch"][v]
                nd = ", ".join(f"{k} x{c}" for k, c in x["not_delegated"].items()) or "none"
                row += (
                    f" {x['aten_nodes']} | {x['edge_nodes']} | {x['node_ratio_vs_seq']:.3f} | {x['convert_s']:.1f} |"
                    f" {x['run_median_ms']:.3f} | {x['run_speedup_vs_seq']:.2f}x | {nd} |"
                )
            row += f" {st['max_rel_err_vs_fp64'][v]:.1e} |"
            lines.append(row)
        lines.append("")
    ev = results["evaluation"]
    lines.append("### Scan time per MambaVision-T forward (4 x stage 3 + 2 x stage 4) and goals\n")
    lines.append("| chunk size | eager ms | ET ms | goals met (all stages) |")
    lines.append("|---|---:|---:|---|")
    for v, tot in ev["scan_time_per_forward"].items():
        g = ev["goals"][v]
        detail = "; ".join(
            f"{s}: " + ", ".join(k[:-3] for k, val in gs.items() if k.endswith("_ok") and not val) if not gs["all_ok"] else f"{s}: ok"
            for s, gs in g["stages"].items()
        )
        lines.append(f"| {v} | {tot['eager_model_ms']:.2f} | {tot['et_model_ms']:.2f} | {'yes' if g['all_ok'] else 'no'} ({detail}) |")
    lines.append("")
    lines.append(f"Recommended chunk size: **{ev['recommended_chunk_size']}** (current default {ev['current_default']}); by {ev['recommended_by']}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short run: chunk sizes 14 and 49, 5 repeats")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"results file (default {DEFAULT_JSON.relative_to(ROOT)})")
    p.add_argument("--repeats", type=int, default=None, help="timed eager rounds (default 40; quick 5)")
    p.add_argument("--et-repeats", type=int, default=None, help="timed ExecuTorch rounds (default 30; quick 5)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up rounds (default 5; quick 2)")
    p.add_argument("--chunks", type=str, default=None, help="comma-separated chunk sizes (default 7,14,28,49,98,196)")
    p.add_argument("--stages", type=str, default=",".join(STAGES), help="comma-separated stages (stage3,stage4)")
    p.add_argument("--no-export", action="store_true", help="eager only (skip ExecuTorch)")
    args = p.parse_args(argv)

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    chunk_sizes = tuple(int(c) for c in args.chunks.split(",")) if args.chunks else (QUICK_CHUNK_SIZES if args.quick else CHUNK_SIZES)
    repeats = args.repeats or (5 if args.quick else 40)
    et_repeats = args.et_repeats or (5 if args.quick else 30)
    warmup = args.warmup if args.warmup is not None else (2 if args.quick else 5)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    t_start = time.perf_counter()
    results: dict[str, Any] = {
        "benchmark": "scan",
        "command": "python " + " ".join([os.path.relpath(__file__, ROOT)] + (argv if argv is not None else sys.argv[1:])),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine_info(),
        "settings": {"chunk_sizes": list(chunk_sizes), "repeats": repeats, "et_repeats": et_repeats, "warmup": warmup, "threads": THREADS, "quick": args.quick},
        "stages": {},
    }
    for s in stages:
        results["stages"][s] = bench_stage(s, STAGES[s], chunk_sizes, warmup, repeats, et_repeats, not args.no_export, log)
    results["evaluation"] = evaluate(results, chunk_sizes)
    results["wall_s"] = time.perf_counter() - t_start
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))
    log(f"wrote {args.json} ({results['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
