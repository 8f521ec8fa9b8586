#!/usr/bin/env python
"""Selective scan benchmark: mvedge's two scan forms (several chunk sizes) vs the sequential reference.

Shapes are MambaVision-T's Mamba stages at 224 px, batch 1:
  stage 3: d=160 channels, n=8 states, L=196 tokens (one 14x14 window), 4 Mamba blocks
  stage 4: d=320 channels, n=8 states, L=49 tokens (one 7x7 window),  2 Mamba blocks

Variants (rows):
  sequential  `selective_scan_reference` (mamba_ssm layout, Python loop over L; unrolled when exported)
  twopass{T}  mvedge's `twopass_scan_bld` (the default form) with chunk size T
  logstep{T}  mvedge's `logstep_scan_bld` (method="logstep") with chunk size T

Measured per stage and variant:
  * eager CPU time (torch.set_num_threads(2), no_grad), all variants interleaved round by round;
  * ExecuTorch + XNNPACK: call_function node count of the exported program after
    run_decompositions() and of the edge program before lowering (to_edge), conversion time
    (torch.export + to_edge_transform_and_lower + to_executorch), run time in the ExecuTorch
    Python runtime (all programs interleaved), the .pte's agreement with eager, and the delegation
    report (which ops are NOT delegated to XNNPACK);
  * LiteRT (litert-torch conversion, ai-edge-litert interpreter with its default XNNPACK delegate,
    2 threads): op count of the .tflite, XNNPACK partitions, conversion time, run time (all models
    interleaved), agreement with eager.
A probe (a fixed pure-Python loop, timed at the start of every round) and the load average record
how busy the machine was. OMP_WAIT_POLICY=PASSIVE is set unless --omp-active is given (see there).

Usage:
  python benchmarks/bench_scan.py                 # full run, writes benchmarks/results/scan.json
  python benchmarks/bench_scan.py --quick         # short run (fewer repeats and chunk sizes)
  python benchmarks/bench_scan.py --json OUT.json # write the results elsewhere
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
from torch import Tensor, nn  # noqa: E402

from mvedge.model.scan import DEFAULT_METHOD, chunk_size_for, logstep_scan_bld, selective_scan_reference, twopass_scan_bld  # noqa: E402
from mvedge.strict_json import write_atomic  # noqa: E402
from timing import cpu_name, interleaved, loadavg, summarize, wait_quiet  # noqa: E402  (benchmarks/timing.py)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "scan.json"
THREADS = 2

STAGES: dict[str, dict[str, int]] = {
    "stage3": {"d": 160, "n": 8, "L": 196, "blocks": 4},
    "stage4": {"d": 320, "n": 8, "L": 49, "blocks": 2},
}
TWOPASS_CHUNK_SIZES = (7, 14, 16)
QUICK_TWOPASS_CHUNK_SIZES = (7,)
LOGSTEP_CHUNK_SIZES = (7, 14)
QUICK_LOGSTEP_CHUNK_SIZES = (7,)
SEQ = "sequential"
FAMILIES = {"twopass": "mvedge twopass_scan_bld", "logstep": "mvedge logstep_scan_bld"}

# Goals the chunked scan is measured against (BENCHMARKS.md, section 1)
GOAL_NODE_RATIO = {"stage3": 0.1, "stage4": 0.25}  # exported graph: at most this share of the unrolled sequential nodes
GOAL_ET_SPEEDUP = 2.0  # exported chunked scan runs at least 2x faster than the sequential one
GOAL_EAGER_SPEEDUP = 1.0  # eager: no slower than the sequential loop


# ---------------------------------------------------------------------------------------------
# inputs


def make_inputs(d: int, n: int, L: int, seed: int = 0) -> dict[str, Tensor]:
    """Realistic scan inputs in mamba_ssm layout: u, delta (1, d, L); A (d, n); B, C (1, n, L).

    Raw delta is uniform in [-6, 1] (softplus(delta + bias) then spans ~0.002..1.5);
    A = -exp(log(1..n)) per channel (the mamba_ssm S4D-real init); D, delta_bias randn (x 0.1).
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


# ---------------------------------------------------------------------------------------------
# modules


class _ScanBase(nn.Module):
    """Holds A, D and delta_bias as buffers (they are weights in the model); u, delta, B, C are inputs."""

    def __init__(self, A: Tensor, D: Tensor, delta_bias: Tensor) -> None:
        super().__init__()
        self.register_buffer("A", A.clone())
        self.register_buffer("D", D.clone())
        self.register_buffer("delta_bias", delta_bias.clone())


class TokenMajorScan(_ScanBase):
    """A token-major scan fn: u, delta (b, L, d); B, C (b, L, n) -> y (b, L, d)."""

    def __init__(self, fn: Callable[..., Tensor], A: Tensor, D: Tensor, delta_bias: Tensor, chunk_size: int) -> None:
        super().__init__(A, D, delta_bias)
        self.fn = fn
        self.chunk_size = chunk_size

    def forward(self, u: Tensor, delta: Tensor, B: Tensor, C: Tensor) -> Tensor:
        return self.fn(u, delta, self.A, B, C, self.D, self.delta_bias, True, self.chunk_size)


class SequentialScan(_ScanBase):
    """`selective_scan_reference`, mamba_ssm layout: u, delta (b, d, L); B, C (b, n, L) -> y (b, d, L)."""

    def forward(self, u: Tensor, delta: Tensor, B: Tensor, C: Tensor) -> Tensor:
        return selective_scan_reference(u, delta, self.A, B, C, self.D, self.delta_bias, True)


FAMILY_FNS: dict[str, Callable[..., Tensor]] = {"twopass": twopass_scan_bld, "logstep": logstep_scan_bld}


def variants_for(stage: dict[str, int], families: dict[str, tuple[int, ...]], inp: dict[str, Tensor]):
    """name -> (module, args, to_channel_major) for a stage; chunk sizes > L are skipped."""
    L = stage["L"]
    out: dict[str, tuple[nn.Module, tuple[Tensor, ...], Callable[[Tensor], Tensor]]] = {}
    seq_args = (inp["u"], inp["delta"], inp["B"], inp["C"])
    out[SEQ] = (SequentialScan(inp["A"], inp["D"], inp["delta_bias"]).eval(), seq_args, lambda y: y)
    tm_args = tuple(token_major(t) for t in seq_args)
    for family, sizes in families.items():
        for T in sizes:
            if T > L:
                continue
            mod = TokenMajorScan(FAMILY_FNS[family], inp["A"], inp["D"], inp["delta_bias"], T).eval()
            out[f"{family}{T}"] = (mod, tm_args, lambda y: y.transpose(1, 2))
    return out


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
# LiteRT


def litert_convert(module: nn.Module, args: tuple[Tensor, ...]) -> tuple[dict[str, Any], bytes]:
    """Convert one variant with litert-torch; returns (info, flatbuffer)."""
    from mvedge.quiet import silenced, silenced_imports

    with silenced_imports():
        import litert_torch

    t0 = time.perf_counter()
    with silenced():  # litert-torch prints its progress on stdout
        flatbuffer = bytes(litert_torch.convert(module, args).model_content())
    info: dict[str, Any] = {"convert_s": time.perf_counter() - t0, "tflite_bytes": len(flatbuffer)}
    return info, flatbuffer


def litert_interpreter(flatbuffer: bytes, info: dict[str, Any]):
    """An interpreter with LiteRT's default XNNPACK delegate and 2 threads; records op and partition counts."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer, num_threads=THREADS)
    interpreter.allocate_tensors()
    ops = [o["op_name"] for o in interpreter._get_ops_details()]  # the model's ops, then one DELEGATE per partition
    info["tflite_ops"] = sum(1 for o in ops if o != "DELEGATE")
    info["xnnpack_partitions"] = sum(1 for o in ops if o == "DELEGATE")
    return interpreter


# ---------------------------------------------------------------------------------------------
# main benchmark


def bench_stage(
    name: str, stage: dict[str, int], families: dict[str, tuple[int, ...]], warmup: int, repeats: int,
    et_repeats: int, do_export: bool, log: Callable[[str], None], quiet: tuple[float, float] = (0.0, 1.5),
    eager_1thread: bool = True, profile: tuple[str, ...] = (), do_litert: bool = True,
) -> dict[str, Any]:
    inp = make_inputs(stage["d"], stage["n"], stage["L"], seed=stage["L"])
    variants = variants_for(stage, families, inp)
    res: dict[str, Any] = {"shape": {k: stage[k] for k in ("d", "n", "L")}, "blocks": stage["blocks"]}

    # accuracy against a float64 sequential reference (max abs error / max |y|)
    ref64 = selective_scan_reference(*(inp[k].double() for k in ("u", "delta", "A", "B", "C", "D", "delta_bias")))
    scale = float(ref64.abs().max())
    acc = {}
    with torch.no_grad():
        for vname, (mod, args, to_cm) in variants.items():
            acc[vname] = float((to_cm(mod(*args)).double() - ref64).abs().max()) / scale
    res["max_rel_err_vs_fp64"] = acc

    # eager, interleaved
    log(f"[{name}] eager: {len(variants)} variants x {repeats} rounds (+{warmup} warm-up)")
    res["eager_wait"] = wait_quiet(*quiet, log)
    res["eager_loadavg_before"] = loadavg()
    with torch.no_grad():
        times, probes = interleaved({v: (lambda m=m, a=a: m(*a)) for v, (m, a, _) in variants.items()}, warmup, repeats)
    res["eager_loadavg_after"] = loadavg()
    res["eager_probe"] = summarize(probes)
    eager = {v: summarize(t) for v, t in times.items()}
    for v in eager:
        eager[v]["speedup_vs_seq"] = eager[SEQ]["median_ms"] / eager[v]["median_ms"]
        eager[v]["speedup_vs_seq_min"] = eager[SEQ]["min_ms"] / eager[v]["min_ms"]
    res["eager"] = eager
    if profile:  # where the eager time goes: top ops by self CPU time
        res["eager_profile"] = {}
        for v in profile:
            if v not in variants:
                continue
            m, a, _ = variants[v]
            with torch.no_grad(), torch.profiler.profile() as prof:
                for _ in range(10):
                    m(*a)
            ka = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
            total = sum(e.self_cpu_time_total for e in ka) or 1.0
            res["eager_profile"][v] = [
                {"op": e.key, "self_cpu_pct": 100.0 * e.self_cpu_time_total / total, "calls_per_run": e.count / 10}
                for e in ka[:8]
            ]
    if eager_1thread:  # cross-check without intra-op threads (robust against a busy machine)
        torch.set_num_threads(1)
        try:
            with torch.no_grad():
                times1, probes1 = interleaved({v: (lambda m=m, a=a: m(*a)) for v, (m, a, _) in variants.items()}, warmup, repeats)
        finally:
            torch.set_num_threads(THREADS)
        e1 = {v: summarize(t) for v, t in times1.items()}
        for v in e1:
            e1[v]["speedup_vs_seq"] = e1[SEQ]["median_ms"] / e1[v]["median_ms"]
        res["eager_1thread"] = e1
        res["eager_1thread_probe"] = summarize(probes1)
    if not do_export:
        return res

    # ExecuTorch: export + lower each variant, then run all programs interleaved
    runtime, et_threads = et_runtime()
    res["et_threads"] = et_threads
    export: dict[str, Any] = {}
    loaded = {}
    for vname, (mod, args, _) in variants.items():
        log(f"[{name}] export+lower {vname} ...")
        info, pte = export_and_lower(mod, args)
        program = runtime.load_program(pte)  # keep the program alive as long as its method
        method = program.load_method("forward")
        out = method.execute(list(args))[0]
        with torch.no_grad():
            info["max_abs_diff_vs_eager"] = float((out - mod(*args)).abs().max())
        export[vname] = info
        loaded[vname] = (program, method, list(args))
        log(
            f"[{name}]   {vname}: {info['aten_nodes']} aten nodes, {info['edge_nodes']} edge nodes, "
            f"convert {info['convert_s']:.1f} s, not delegated: {info['not_delegated'] or 'none'}"
        )
    log(f"[{name}] ExecuTorch run: {len(loaded)} programs x {et_repeats} rounds (+{warmup} warm-up)")
    res["et_wait"] = wait_quiet(*quiet, log)
    res["et_loadavg_before"] = loadavg()
    et_times, probes = interleaved({v: (lambda m=m, a=a: m.execute(a)) for v, (_, m, a) in loaded.items()}, warmup, et_repeats)
    res["et_loadavg_after"] = loadavg()
    res["et_probe"] = summarize(probes)
    for v, t in et_times.items():
        export[v].update({f"run_{k}": val for k, val in summarize(t).items()})
    seq = export[SEQ]
    for info in export.values():
        info["node_ratio_vs_seq"] = info["aten_nodes"] / seq["aten_nodes"]
        info["edge_node_ratio_vs_seq"] = info["edge_nodes"] / seq["edge_nodes"]
        info["convert_speedup_vs_seq"] = seq["convert_s"] / info["convert_s"]
        info["run_speedup_vs_seq"] = seq["run_median_ms"] / info["run_median_ms"]
        info["run_speedup_vs_seq_min"] = seq["run_min_ms"] / info["run_min_ms"]
    res["executorch"] = export
    del loaded
    if not do_litert:
        return res

    # LiteRT: convert each variant with litert-torch, then run all interpreters interleaved
    lite: dict[str, Any] = {}
    runners = {}
    for vname, (mod, args, _) in variants.items():
        log(f"[{name}] litert-torch {vname} ...")
        info, flatbuffer = litert_convert(mod, args)
        interpreter = litert_interpreter(flatbuffer, info)
        runner = interpreter.get_signature_runner()
        feed = {f"args_{i}": a.numpy() for i, a in enumerate(args)}
        out = torch.from_numpy(next(iter(runner(**feed).values())))
        with torch.no_grad():
            info["max_abs_diff_vs_eager"] = float((out - mod(*args)).abs().max())
        lite[vname] = info
        runners[vname] = (interpreter, runner, feed)
        log(f"[{name}]   {vname}: {info['tflite_ops']} ops, {info['xnnpack_partitions']} XNNPACK partitions, convert {info['convert_s']:.1f} s")
    log(f"[{name}] LiteRT run: {len(runners)} models x {et_repeats} rounds (+{warmup} warm-up)")
    lt_times, probes = interleaved({v: (lambda r=r, f=f: r(**f)) for v, (_, r, f) in runners.items()}, warmup, et_repeats)
    res["litert_probe"] = summarize(probes)
    for v, t in lt_times.items():
        lite[v].update({f"run_{k}": val for k, val in summarize(t).items()})
    seq = lite[SEQ]
    for info in lite.values():
        info["op_ratio_vs_seq"] = info["tflite_ops"] / seq["tflite_ops"]
        info["run_speedup_vs_seq"] = seq["run_median_ms"] / info["run_median_ms"]
    res["litert"] = lite
    return res


def evaluate(results: dict[str, Any], families: dict[str, tuple[int, ...]]) -> dict[str, Any]:
    """Goals per variant and stage; the fastest variant per stage and runtime; scan time per
    MambaVision-T forward."""
    stages = results["stages"]
    runtimes = [r for r in ("executorch", "litert") if all(r in st for st in stages.values())]
    goals: dict[str, Any] = {}
    fastest: dict[str, Any] = {}
    for sname, st in stages.items():
        per_variant: dict[str, Any] = {}
        for v, e in st["eager"].items():
            if v == SEQ:
                continue
            g: dict[str, Any] = {"eager_speedup": e["speedup_vs_seq"], "eager_ok": e["speedup_vs_seq"] >= GOAL_EAGER_SPEEDUP}
            if "executorch" in st:
                x = st["executorch"][v]
                g.update(node_ratio=x["node_ratio_vs_seq"], nodes_ok=x["node_ratio_vs_seq"] <= GOAL_NODE_RATIO[sname],
                         et_speedup=x["run_speedup_vs_seq"], et_ok=x["run_speedup_vs_seq"] >= GOAL_ET_SPEEDUP,
                         fully_delegated=x["non_delegated_nodes"] == 0)
            if "litert" in st:
                x = st["litert"][v]
                g.update(litert_speedup=x["run_speedup_vs_seq"], litert_ok=x["run_speedup_vs_seq"] >= GOAL_ET_SPEEDUP)
            g["all_ok"] = all(val for k, val in g.items() if k.endswith("_ok"))
            per_variant[v] = g
        goals[sname] = per_variant
        candidates = [v for v in st["eager"] if v != SEQ]
        fastest[sname] = {"eager": min(candidates, key=lambda v: st["eager"][v]["median_ms"])}
        for r in runtimes:
            fastest[sname][r] = min(candidates, key=lambda v: st[r][v]["run_median_ms"])
    per_forward: dict[str, Any] = {}
    for family, sizes in families.items():
        for T in sizes:
            key = f"{family}{T}"
            if not all(key in st["eager"] for st in stages.values()):
                continue
            row = {"eager_ms": sum(st["blocks"] * st["eager"][key]["median_ms"] for st in stages.values())}
            for r in runtimes:
                row[f"{r}_ms"] = sum(st["blocks"] * st[r][key]["run_median_ms"] for st in stages.values())
            per_forward[key] = row
    return {
        "goals": goals,
        "fastest": fastest,
        "scan_time_per_forward": per_forward,
        "per_forward_definition": "sum of medians over the Mamba blocks of one MambaVision-T forward (4 x stage 3 + 2 x stage 4)",
        "shipped_default": {s: f"{DEFAULT_METHOD}{chunk_size_for(st['shape']['L'])}" for s, st in stages.items()},
    }


def machine_info() -> dict[str, Any]:
    try:
        from importlib.metadata import version

        et_version = version("executorch")
    except Exception:  # noqa: BLE001
        et_version = "unknown"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu_name(),
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
        has_1t = "eager_1thread" in st
        hdr = "| variant | eager median ms (min) | eager speedup |"
        sep = "|---|---:|---:|"
        if has_1t:
            hdr += " eager 1-thread median ms (speedup) |"
            sep += "---:|"
        if has_et:
            hdr += " aten nodes | node ratio | convert s | ET median ms (min) | ET speedup | not delegated |"
            sep += "---:|---:|---:|---:|---:|---|"
        has_lt = "litert" in st
        if has_lt:
            hdr += " LiteRT ops (partitions) | convert s | LiteRT median ms | LiteRT speedup |"
            sep += "---:|---:|---:|---:|"
        hdr += " rel err vs fp64 |"
        sep += "---:|"
        lines += [hdr, sep]
        for v, e in st["eager"].items():
            row = f"| {v} | {e['median_ms']:.3f} ({e['min_ms']:.3f}) | {e['speedup_vs_seq']:.2f}x |"
            if has_1t:
                e1 = st["eager_1thread"][v]
                row += f" {e1['median_ms']:.3f} ({e1['speedup_vs_seq']:.2f}x) |"
            if has_et:
                x = st["executorch"][v]
                nd = ", ".join(f"{k.removeprefix('aten_')} x{c}" for k, c in x["not_delegated"].items()) or "none"
                row += (
                    f" {x['aten_nodes']} | {x['node_ratio_vs_seq']:.3f} | {x['convert_s']:.1f} |"
                    f" {x['run_median_ms']:.3f} ({x['run_min_ms']:.3f}) | {x['run_speedup_vs_seq']:.2f}x | {nd} |"
                )
            if has_lt:
                x = st["litert"][v]
                row += (f" {x['tflite_ops']} ({x['xnnpack_partitions']}) | {x['convert_s']:.1f} | {x['run_median_ms']:.3f} |"
                        f" {x['run_speedup_vs_seq']:.2f}x |")
            row += f" {st['max_rel_err_vs_fp64'][v]:.1e} |"
            lines.append(row)
        probe_txt = f"probe median {st['eager_probe']['median_ms']:.3f} ms (min {st['eager_probe']['min_ms']:.3f}) in eager"
        if has_et:
            probe_txt += f", {st['et_probe']['median_ms']:.3f} ms (min {st['et_probe']['min_ms']:.3f}) in ExecuTorch"
        lines.append(f"\nSpeedups are sequential median / variant median. Machine load: {probe_txt}; "
                     f"loadavg {st['eager_loadavg_before']} -> {st.get('et_loadavg_after', st['eager_loadavg_after'])}.\n")
    for sname, st in results["stages"].items():
        if st.get("eager_profile"):
            lines.append(f"### Eager profile, {sname} (share of self CPU time; calls per scan)\n")
            for v, ops in st["eager_profile"].items():
                lines.append(f"- {v}: " + ", ".join(f"{o['op'].removeprefix('aten::')} {o['self_cpu_pct']:.0f}% ({o['calls_per_run']:.0f})" for o in ops[:6]))
            lines.append("")
    ev = results["evaluation"]
    lines.append("### Goals per stage (eager >= 1x; exported nodes <= 0.1 at stage 3, 0.25 at stage 4; ExecuTorch and LiteRT >= 2x)\n")
    for sname, per_variant in ev["goals"].items():
        parts = []
        for v, g in per_variant.items():
            failed = [k[: -len("_ok")] for k, val in g.items() if k.endswith("_ok") and k != "all_ok" and not val]
            parts.append(f"{v}: " + ("all met" if not failed else "misses " + ", ".join(failed)))
        lines.append(f"- {sname}: " + "; ".join(parts))
    lines.append("")
    lines.append("Fastest per stage and runtime: " + "; ".join(
        f"{s}: " + ", ".join(f"{r} {v}" for r, v in f.items()) for s, f in ev["fastest"].items()))
    lines.append("")
    lines.append("### Scan time per MambaVision-T forward (4 x stage 3 + 2 x stage 4), ms\n")
    runtimes = [k[: -len("_ms")] for k in next(iter(ev["scan_time_per_forward"].values()), {}) if k != "eager_ms"]
    lines.append("| " + " | ".join(["variant", "eager", *runtimes]) + " |")
    lines.append("|---|" + "---:|" * (1 + len(runtimes)))
    for v, row in ev["scan_time_per_forward"].items():
        lines.append("| " + " | ".join([v, *(f"{row[k + '_ms']:.2f}" for k in ["eager", *runtimes])]) + " |")
    lines.append("")
    lines.append("Shipped default: " + ", ".join(f"{s} {v}" for s, v in ev["shipped_default"].items()) + ".")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short run: chunk size 7 of each form, 5 rounds")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help="results file (default benchmarks/results/scan.json)")
    p.add_argument("--repeats", type=int, default=None, help="timed eager rounds (default 40; quick 5)")
    p.add_argument("--et-repeats", type=int, default=None, help="timed ExecuTorch and LiteRT rounds (default 40; quick 5)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up rounds (default 5; quick 2)")
    p.add_argument("--twopass-chunks", type=str, default=None, help="two-pass chunk sizes, comma-separated (default 7,14,16; '' for none)")
    p.add_argument("--logstep-chunks", type=str, default=None, help="log-step chunk sizes (default 7,14; '' for none)")
    p.add_argument("--stages", type=str, default=",".join(STAGES), help="comma-separated stages (stage3,stage4)")
    p.add_argument("--omp-active", action="store_true",
                   help="keep OpenMP's default busy-waiting (by default OMP_WAIT_POLICY=PASSIVE is set: on a shared "
                        "machine spinning OpenMP workers inflate 2-thread eager times 5-50x)")
    p.add_argument("--wait-quiet", type=float, default=0.0, metavar="S",
                   help="first wait up to S seconds until the 1-min load average is below --quiet-load (default 0: no wait)")
    p.add_argument("--quiet-load", type=float, default=1.5, help="load-average threshold for --wait-quiet (default 1.5)")
    p.add_argument("--profile", type=str, default="",
                   help="variants whose eager ops are profiled (torch.profiler; '' for none)")
    p.add_argument("--1thread", dest="one_thread", action="store_true", help="add a 1-thread eager cross-check")
    p.add_argument("--no-export", action="store_true", help="eager only (skip ExecuTorch and LiteRT)")
    p.add_argument("--no-litert", action="store_true", help="skip LiteRT")
    args = p.parse_args(argv)

    def sizes(text: str | None, full: tuple[int, ...], quick: tuple[int, ...]) -> tuple[int, ...]:
        if text is None:
            return quick if args.quick else full
        return tuple(int(c) for c in text.split(",") if c.strip())

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    families = {"twopass": sizes(args.twopass_chunks, TWOPASS_CHUNK_SIZES, QUICK_TWOPASS_CHUNK_SIZES),
                "logstep": sizes(args.logstep_chunks, LOGSTEP_CHUNK_SIZES, QUICK_LOGSTEP_CHUNK_SIZES)}
    families = {k: v for k, v in families.items() if v}
    repeats = args.repeats or (5 if args.quick else 40)
    et_repeats = args.et_repeats or (5 if args.quick else 40)
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
        "settings": {"families": {k: list(v) for k, v in families.items()}, "repeats": repeats, "et_repeats": et_repeats,
                     "warmup": warmup, "threads": THREADS, "quick": args.quick,
                     "wait_quiet_s": args.wait_quiet, "quiet_load": args.quiet_load,
                     "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY")},
        "stages": {},
    }
    for s in stages:
        results["stages"][s] = bench_stage(
            s, STAGES[s], families, warmup, repeats, et_repeats, not args.no_export, log, (args.wait_quiet, args.quiet_load),
            args.one_thread, tuple(v for v in args.profile.split(",") if v), not args.no_litert,
        )
    results["evaluation"] = evaluate(results, families)
    results["wall_s"] = time.perf_counter() - t_start
    write_atomic(args.json, results, indent=2)
    print(markdown(results))
    log(f"wrote {args.json} ({results['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
