"""Shared timing for the benchmarks: interleaved rounds, medians, and the p90 `mvedge profile` reports.

Every variant runs once per round, in an order rotated each round, so all variants see the same
machine state; on a shared machine only ratios measured this way mean anything. A fixed
pure-Python probe timed in every round and the load average record how busy the machine was.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from mvedge.profile.schema import nearest_rank


def probe() -> float:
    """Seconds for a fixed single-threaded pure-Python workload (no thread pool, so it does not
    disturb the timed code): shows how much CPU the machine gives this process in each round."""
    t0 = time.perf_counter()
    sum(i * i for i in range(20_000))
    return time.perf_counter() - t0


def loadavg() -> list[float] | None:
    """The 1, 5 and 15-minute load averages (None where /proc is absent)."""
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def interleaved(
    fns: dict[str, Callable[[], Any]], warmup: int, rounds: int, log: Callable[[str], None] | None = None
) -> tuple[dict[str, list[float]], list[float]]:
    """Run every fn once per round (order rotated each round), `warmup` untimed rounds first.
    Returns the timed seconds per fn and the probe's seconds per timed round; with `log`, a progress
    line with the load average every 10 rounds."""
    names = list(fns)
    times: dict[str, list[float]] = {k: [] for k in names}
    probes: list[float] = []
    gc.collect()
    gc.disable()
    try:
        for r in range(warmup + rounds):
            p = probe()
            k = r % len(names)
            for name in names[k:] + names[:k]:
                t0 = time.perf_counter()
                fns[name]()
                dt = time.perf_counter() - t0
                if r >= warmup:
                    times[name].append(dt)
            if r >= warmup:
                probes.append(p)
            if log is not None and (r + 1) % 10 == 0:
                log(f"  round {r + 1}/{warmup + rounds}, loadavg {loadavg()}")
    finally:
        gc.enable()
    return times, probes


def summarize(times_s: list[float]) -> dict[str, float]:
    """Median, min and p90 in ms of timed seconds; the p90 is the nearest-rank percentile, as in
    `mvedge profile`."""
    ms = sorted(t * 1e3 for t in times_s)
    return {"median_ms": statistics.median(ms), "min_ms": ms[0], "p90_ms": nearest_rank(ms, 90), "n": len(ms)}


def wait_quiet(max_wait_s: float, threshold: float, log: Callable[[str], None]) -> dict[str, Any]:
    """Wait (polling every 10 s, at most max_wait_s) until the 1-minute load average is below
    threshold, so that the timed rounds do not share the cores with other jobs. Returns what happened."""
    t0 = time.time()
    first = loadavg()
    while max_wait_s > 0:
        la = loadavg()
        if la is None or la[0] < threshold:
            break
        if time.time() - t0 >= max_wait_s:
            log(f"machine still busy after {max_wait_s:.0f} s (loadavg {la}); measuring anyway")
            break
        time.sleep(10)
    return {"max_wait_s": max_wait_s, "threshold": threshold, "waited_s": round(time.time() - t0, 1),
            "loadavg_at_call": first, "loadavg_at_start": loadavg()}


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo ("unknown" where it is not readable)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


# --- a model timed from another process ----------------------------------------------------------

def serve(forward: Callable[[], Any], info: dict[str, Any], requests: dict[str, Callable[[str], dict]] | None = None) -> int:
    """The worker side of `PipeWorker`: print `info` as one JSON line, then run `forward` once per
    'run' line on stdin and answer 'ok'; a line starting with a key of `requests` is answered with
    that function's JSON; anything else ends the loop."""
    print(json.dumps(info), flush=True)
    for line in sys.stdin:
        word = line.split(maxsplit=1)[0] if line.strip() else ""
        if requests and word in requests:
            print(json.dumps(requests[word](line)), flush=True)
            continue
        if line.strip() != "run":
            break
        forward()
        print("ok", flush=True)
    return 0


class PipeWorker:
    """A model's forward in its own process (see `serve`), one pipe round trip per call, so rows
    timed side by side never share a process or its thread pools; OpenMP waits passively."""

    def __init__(self, command: list[str], cwd: Path, pythonpath: Path, what: str) -> None:
        env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(pythonpath)}
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=cwd, env=env)
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the {what} worker did not start (see its errors above)")
        self.info = json.loads(line)

    def __call__(self) -> None:
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        if self.proc.stdout.readline().strip() != "ok":
            raise RuntimeError("a worker stopped")

    def request(self, line: str) -> dict[str, Any]:
        """Send one request line; its JSON answer (lines before it, such as a profiler's, skipped)."""
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        while not (answer := self.proc.stdout.readline()).startswith("{"):
            if not answer:
                raise RuntimeError("a worker stopped")
        return json.loads(answer)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
