"""ExecuTorch: record an ETDump in the Python runtime and read per-operator times from it.

The pip wheel's runtime (executorch.runtime) records ETDump when a program is loaded with
enable_etdump=True, XNNPACK's delegated operators included (as events named after XNNPACK's own
operators, e.g. "Convolution (NHWC, F32) IGEMM #3"). executorch.devtools.Inspector reads it.
"""

from __future__ import annotations

import re
import tempfile
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

from mvedge.profile.schema import operator_shares

TOTAL = "Method::execute"
NOT_OPERATORS = {TOTAL, "DELEGATE_CALL", "OPERATOR_CALL", "Method::init", "Program::load_method"}
OUTSIDE = "(outside operators: runtime and delegate overhead)"
_INSTANCE = re.compile(r"\s+#\d+$")


def op_type(name: str) -> str:
    """An operator event's type: its name without the instance number ("Add (ND) #3" -> "Add (ND)")."""
    return _INSTANCE.sub("", name)


def per_run_op_times(events: list[tuple[str, list[float]]], skip_runs: int = 1) -> tuple[dict[str, float], float, int]:
    """(mean ms per run by operator type, mean ms per run of Method::execute, runs used) from
    (event name, per-run times in ms) pairs; the first `skip_runs` runs are dropped."""
    totals = [times for name, times in events if name == TOTAL]
    if not totals or len(totals[0]) <= skip_runs:
        raise ValueError(f"the ETDump has no {TOTAL} event with more than {skip_runs} runs")
    runs = totals[0][skip_runs:]
    by_type: dict[str, float] = defaultdict(float)
    for name, times in events:
        if name in NOT_OPERATORS or len(times) <= skip_runs:
            continue
        kept = times[skip_runs:]
        by_type[op_type(name)] += sum(kept) / len(kept)
    return dict(by_type), sum(runs) / len(runs), len(runs)


def etdump_events(etdump: Path) -> list[tuple[str, list[float]]]:
    """(name, per-run ms) of every event of the execution blocks of an ETDump file."""
    from executorch.devtools import Inspector

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Output Buffer not found": no debug tensors were asked for
        inspector = Inspector(etdump_path=str(etdump))
    events = []
    for block in inspector.event_blocks:
        for event in block.events:
            if event.perf_data is not None:
                events.append((event.name, [float(t) for t in event.perf_data.raw]))
    return events


def breakdown(path: Path, batch: np.ndarray, threads: int, runs: int):
    """Run `runs` + 1 executions with ETDump on (the first is dropped) and sum times by operator type."""
    import torch
    from executorch.runtime import Runtime

    from mvedge.verify.runners.executorch import set_threads

    set_threads(threads)
    with tempfile.TemporaryDirectory(prefix="mvedge-etdump-") as tmp:
        program = Runtime.get().load_program(Path(path), enable_etdump=True, debug_buffer_size=0)
        method = program.load_method("forward")
        inputs = [torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))]
        for _ in range(runs + 1):
            method.execute(inputs)
        etdump = Path(tmp) / "run.etdp"
        program.write_etdump_result_to_file(str(etdump), str(Path(tmp) / "debug.bin"))
        events = etdump_events(etdump)
    times, run_ms, count = per_run_op_times(events, skip_runs=1)
    note = (
        f"per-operator times: ExecuTorch ETDump (XNNPACK's operators inside the delegate), by operator type, "
        f"mean of {count} profiled runs of {run_ms:.2f} ms"
    )
    return operator_shares(times, run_ms, OUTSIDE), [note]
