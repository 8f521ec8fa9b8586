#!/usr/bin/env python
"""What each ExecuTorch graph fix buys: fp32 XNNPACK latency with and without it.

The pip runtime cannot profile per op, so the cost of an op left outside the delegate is measured
as the latency difference between the converter's graph and the same graph with one fix turned
off: `layer_norm` (the LayerNorm rewrite off: native_layer_norm runs on the portable kernels) and
`bmm` (batched matmul rewrite off: the matmul's expand_copy runs outside). Without the constant
folding the .pte segfaults at run time (shared dt bias), so that variant folds but is not timed.
Prints a markdown table and writes benchmarks/results/executorch_fallbacks.json.

    python benchmarks/bench_executorch_fallbacks.py [--variant T] [--threads 1] [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "executorch_fallbacks.json"
VARIANTS = {  # name: (LayerNorm rewrite, batched matmul as bmm)
    "converter (all fixes)": (True, True),
    "layer_norm not rewritten": (False, True),
    "matmul not rewritten": (True, False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default="T")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import numpy as np
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    from converters.executorch import delegable_copy, delegation_report, export_program
    from mvedge.model.bundle import load_bundle
    from mvedge.quiet import silenced
    from mvedge.verify.runners.executorch import ExecuTorchRunner

    torch.manual_seed(0)
    bundle = load_bundle(variant=args.variant)
    size = bundle.image_size
    example = torch.randn(1, 3, size, size)
    x = example.numpy()
    rows, runners = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (norms, bmm) in VARIANTS.items():
            with silenced():
                program, _ = export_program(delegable_copy(bundle.model, rewrite_norms=norms), example, bmm=bmm)
                edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
                report = delegation_report(edge.exported_program().graph_module, "XnnpackBackend")
                path = Path(tmp) / f"{len(rows)}.pte"
                path.write_bytes(edge.to_executorch().buffer)
            runner = ExecuTorchRunner(path, threads=args.threads)
            with torch.no_grad():
                error = float(np.abs(runner.run(x) - bundle.model(example).numpy()).max())
            for _ in range(2):
                runner.run(x)
            runners.append(runner)
            rows.append({"graph": name, "delegated_subgraphs": report["delegated_subgraphs"],
                         "non_delegated_ops": report["non_delegated_ops"], "max_abs_error": error})
            print(rows[-1], flush=True)
        times: list[list[float]] = [[] for _ in runners]
        for _ in range(args.runs):  # round-robin, so a change in machine load hits every graph alike
            for runner, samples in zip(runners, times):
                start = time.perf_counter()
                runner.run(x)
                samples.append((time.perf_counter() - start) * 1e3)
        for row, samples in zip(rows, times):
            row["median_ms"] = round(float(np.median(samples)), 2)
            row["min_ms"] = round(min(samples), 2)
    base = rows[0]["min_ms"]
    load = os.getloadavg()[0]
    print(f"\nMambaVision-{args.variant} {size}px fp32, ExecuTorch XNNPACK, {args.threads} thread(s), load average {load:.1f}\n")
    print("| graph | delegates | outside the delegate | median ms | min ms | min vs converter |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        outside = ", ".join(f"{op} x{n}" for op, n in r["non_delegated_ops"].items()) or "none"
        print(f"| {r['graph']} | {r['delegated_subgraphs']} | {outside} | {r['median_ms']} | {r['min_ms']} | {r['min_ms'] / base - 1:+.1%} |")
    from mvedge.strict_json import write_atomic

    write_atomic(RESULTS, {"variant": args.variant, "threads": args.threads, "load_average": round(load, 1), "results": rows}, indent=1, newline=False)
    print(f"\nwrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
