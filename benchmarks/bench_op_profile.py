#!/usr/bin/env python
"""Where the exported runtimes' time goes: per-operator shares of MambaVision-T at 224 px, batch 1, 2 threads.

ExecuTorch fp32 / int8: `mvedge profile`'s breakdown (ETDump, XNNPACK's own operators inside the
delegate), mean of --runs profiled runs, summed by operator type. LiteRT fp32 / int8: its Python
API has no per-operator timer (mvedge/profile/breakdown/litert.py), so this records how its
graph is split instead: the nodes XNNPACK takes, by op type, and the nodes it leaves outside.

    python benchmarks/bench_op_profile.py [--runs 20] [--cache DIR]

Artifacts come from bench_speed_table.py's cache (converted there if missing). Results:
benchmarks/results/op_profile.json.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from bench_speed_table import THREADS, ensure_artifacts, key  # benchmarks/bench_speed_table.py
from timing import cpu_name, loadavg  # benchmarks/timing.py

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "op_profile.json"
ROWS = [
    ("ExecuTorch-XNNPACK", "executorch", "fp32"),
    ("ExecuTorch-XNNPACK", "executorch", "int8"),
    ("LiteRT (XNNPACK)", "tflite", "fp32"),
    ("LiteRT (XNNPACK)", "tflite", "int8"),
]


def litert_split(path: Path) -> dict:
    """The nodes XNNPACK takes (by op type) and those it leaves outside, with the partition count."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from mvedge.verify.runners.litert import litert_partitions

    interpreter = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.AUTO, num_threads=THREADS)
    interpreter.allocate_tensors()
    ops = interpreter._get_ops_details()
    counts = litert_partitions(ops)
    every = Counter(op["op_name"] for op in ops if op["op_name"] != "DELEGATE")
    inside = every - Counter(counts["ops_outside"])
    return {
        "partitions": counts["partitions"],
        "nodes_delegated_by_type": dict(inside.most_common()),
        "nodes_outside_by_type": counts["ops_outside"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="profiled runs per artifact (default 20)")
    parser.add_argument("--top", type=int, default=8, help="operator types kept per row (default 8; the rest summed)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mvedge" / "speed_table", help="converted artifacts")
    parser.add_argument("--json", type=Path, default=RESULTS, help="results file (default benchmarks/results/op_profile.json)")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    import numpy as np
    import torch

    from mvedge.profile.breakdown import operator_breakdown

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = loadavg()
    paths = ensure_artifacts(args.cache, log, ROWS)
    batch = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1)).numpy().astype(np.float32)
    rows = []
    for name, target, precision in ROWS:
        path = paths[key(name, precision)]
        operators, notes = operator_breakdown(path, batch, THREADS, args.runs)
        row = {"row": name, "precision": precision, "artifact": path.name, "notes": notes}
        if operators is not None:
            top, rest = operators[: args.top], operators[args.top :]
            if rest:
                top.append({"name": f"(other {len(rest)} types)", "ms": round(sum(r["ms"] for r in rest), 4), "share": round(sum(r["share"] for r in rest), 4)})
            row["operators"] = top
            log(f"{name} {precision}: " + ", ".join(f"{r['name']} {100 * r['share']:.0f}%" for r in top[:5]))
        if target == "tflite":
            row["split"] = litert_split(path)
            log(f"{name} {precision}: {row['split']['partitions']} partitions, outside {row['split']['nodes_outside_by_type']}")
        rows.append(row)
    result = {
        "benchmark": "per-operator time shares, MambaVision-T 224 px, batch 1, 2 threads, random weights",
        "command": "python benchmarks/bench_op_profile.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "started": started,
        "cpu": cpu_name(),
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
        "runs": args.runs,
        "rows": rows,
    }
    from mvedge.strict_json import write_atomic

    write_atomic(args.json, result, indent=1)
    log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
