#!/usr/bin/env python
"""LiteRT int8 against fp32, for two sets of MambaVision-T 224 px artifacts timed side by side.

Each set (--set NAME=DIR, DIR holding one T-224 LiteRT fp32 and one int8 .tflite) is e.g. the code
before and after a change to the exported form or the int8 recipe. Every artifact runs in
LiteRT with XNNPACK, 2 threads, batch 1, once per round in a rotated order (benchmarks/timing.py);
the result gives each artifact's median, each set's int8/fp32 ratio, and the delegate partitions
and nodes outside the delegate counted on each file. With --drift N, each artifact's drift against
eager (bench_latency.py's seeded random T, the weights the artifacts hold) on N verification
images (the crops `mvedge convert` verifies on), by the metrics `mvedge verify` reports.

    python benchmarks/bench_litert_delegation.py --set before=DIR1 --set after=DIR2 [--rounds 20] [--drift 64]

Results: benchmarks/results/litert_delegation.json.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import sys
import time
from pathlib import Path

from timing import cpu_name, interleaved, loadavg, summarize  # benchmarks/timing.py

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "litert_delegation.json"
THREADS = 2
PRECISIONS = ("fp32", "int8")


def artifact_of(folder: Path, precision: str) -> Path:
    """The one T-224 LiteRT artifact of `precision` in `folder`."""
    found = sorted(folder.glob(f"mambavision-t-*-224-tflite-{precision}.tflite"))
    if len(found) != 1:
        raise SystemExit(f"expected one mambavision-t-*-224-tflite-{precision}.tflite in {folder}, found {len(found)}")
    return found[0]


def drift_against_eager(runners: dict, count: int) -> dict[str, dict]:
    """Each runner's drift against eager MambaVision-T on `count` verification images."""
    import dataclasses

    import numpy as np
    import torch

    from bench_latency import bundle_t
    from mvedge.verify.data import verification_set
    from mvedge.verify.metrics import compare

    bundle = bundle_t()
    images = np.asarray(verification_set(bundle, None, count)[0], dtype=np.float32)
    with torch.no_grad():
        reference = np.concatenate([bundle.model(torch.from_numpy(images[i : i + 8])).numpy() for i in range(0, len(images), 8)])
    drifts = {}
    for k, runner in runners.items():
        drift = compare(reference, np.asarray(runner.run_all(images), dtype=np.float32))
        drifts[k] = {f: v for f, v in dataclasses.asdict(drift).items() if isinstance(v, (int, float))}
    return drifts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", required=True, metavar="NAME=DIR", help="a named folder of fp32 + int8 artifacts (repeat)")
    parser.add_argument("--rounds", type=int, default=20, help="timed rounds (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default 3)")
    parser.add_argument("--drift", type=int, default=0, metavar="N", help="also measure drift against eager on N images (default 0: no)")
    parser.add_argument("--json", type=Path, default=RESULTS, help="results file (default benchmarks/results/litert_delegation.json)")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    import numpy as np

    from mvedge.verify.runners import open_runner

    sets = dict(item.split("=", 1) for item in args.set)
    batch = np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32)
    runners, files = {}, {}
    for name, folder in sets.items():
        for precision in PRECISIONS:
            path = artifact_of(Path(folder), precision)
            runner = open_runner(path, threads=THREADS)
            runner.run(batch)
            runners[f"{name} {precision}"] = runner
            files[f"{name} {precision}"] = {"artifact": str(path.name), "partitions": runner.partitions()}
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = loadavg()
    fns = {k: (lambda r=r: r.run(batch)) for k, r in runners.items()}
    times, probes = interleaved(fns, args.warmup, args.rounds, log)
    rows = {k: {**files[k], **summarize(v)} for k, v in times.items()}
    ratios = {name: rows[f"{name} int8"]["median_ms"] / rows[f"{name} fp32"]["median_ms"] for name in sets}
    for k, row in rows.items():
        p = row["partitions"]
        log(f"{k}: median {row['median_ms']:.1f} ms, {p['partitions']} partitions, outside {p['ops_outside']}")
    for name, ratio in ratios.items():
        log(f"{name}: int8 / fp32 = {ratio:.3f}")
    if args.drift:
        for k, drift in drift_against_eager(runners, args.drift).items():
            rows[k]["drift"] = drift
            log(f"{k}: PSNR {drift['psnr_db']:.1f} dB, cosine {drift['cosine']:.6f}, top-1 agree {drift['top1_agreement']:.3f}")
    result = {
        "benchmark": "LiteRT int8 vs fp32, MambaVision-T 224 px, batch 1, 2 threads, XNNPACK, interleaved rounds",
        "command": "python benchmarks/bench_litert_delegation.py "
        + " ".join([f"--set {name}=DIR" for name in sets] + [f"--rounds {args.rounds}"] + ([f"--drift {args.drift}"] if args.drift else [])),
        "started": started,
        "cpu": cpu_name(),
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
        "rounds": args.rounds,
        "rows": rows,
        "int8_over_fp32": {k: round(v, 4) for k, v in ratios.items()},
    }
    from mvedge.strict_json import write_atomic

    write_atomic(args.json, result, indent=1)
    log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
