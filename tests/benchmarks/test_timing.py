"""The benchmarks' shared timing: interleaved rounds in rotated order, and the p90 of `mvedge profile`."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import timing  # noqa: E402

from mvedge.profile.schema import latency_stats  # noqa: E402


def test_every_variant_runs_once_per_round_in_a_rotated_order() -> None:
    calls: list[str] = []
    times, probes = timing.interleaved({name: (lambda n=name: calls.append(n)) for name in "abc"}, warmup=1, rounds=3)
    assert calls == list("abc" "bca" "cab" "abc")  # round r starts at variant r mod 3
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3, "c": 3} and len(probes) == 3


def test_summary_uses_the_profile_commands_nearest_rank_p90_and_the_median() -> None:
    samples_s = [0.001 * t for t in (5, 1, 3, 7, 2, 4, 6)]  # 7 samples: nearest rank 7, not the 6th value
    summary = timing.summarize(samples_s)
    stats = latency_stats([t * 1e3 for t in samples_s])
    assert summary["p90_ms"] == stats["p90"] == 7.0
    assert summary["median_ms"] == stats["p50"] == 4.0 and summary["min_ms"] == 1.0 and summary["n"] == 7


def test_a_pipe_worker_runs_one_forward_per_call_and_answers_requests(tmp_path: Path) -> None:
    """The worker side (`serve`) and the parent side (`PipeWorker`) of a model timed in its own process."""
    benchmarks = Path(timing.__file__).parent
    script = tmp_path / "worker.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(benchmarks)!r})\n"
        "from timing import serve\n"
        "calls = []\n"
        "serve(lambda: calls.append(1), {'ready': True}, {'count': lambda line: {'calls': len(calls), 'line': line.strip()}})\n"
    )
    worker = timing.PipeWorker([sys.executable, str(script)], tmp_path, Path(timing.__file__).parents[1], "test")
    assert worker.info == {"ready": True}
    worker()
    worker()
    assert worker.request("count now") == {"calls": 2, "line": "count now"}
    worker.close()
    assert worker.proc.returncode == 0
