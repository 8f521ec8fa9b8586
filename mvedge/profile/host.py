"""Profile an artifact on this machine, in its own runtime, in a subprocess of its own.

The subprocess (mvedge.profile.worker) keeps the measurement clean: the load time is the
artifact's, the peak memory is the artifact's (not the caller's models and imports), and one
runtime's process-wide state (ExecuTorch's thread pool) does not leak into the next.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from mvedge.artifact import checked_artifact, precision_of, runtime_of, sha256_of, target_of
from mvedge.errors import BadInput, Failed
from mvedge.profile.schema import Device, ProfileResult, latency_stats, throughput
from mvedge.progress import Progress

CORE_ML_ON_LINUX = (
    "Core ML latency cannot be measured on {system}: Core ML exists only on Apple platforms, and mvedge's "
    "MIL interpreter (which checks .mlpackage accuracy here) is a reference evaluator whose timing says nothing "
    "about Core ML's; profile it on an iPhone with --device ios (ios_demo app), or run this on a Mac"
)


class ProfileFailed(Failed):
    """The artifact loaded or ran wrongly in its runtime (exit code 1)."""


def default_threads() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def host_device() -> Device:
    """This machine as a profile's device."""
    system = {"Linux": "linux", "Darwin": "macos", "Windows": "windows"}.get(platform.system(), platform.system().lower())
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return Device(system, f"{model}, {default_threads()} CPUs", f"{platform.system()} {platform.release()}", platform.machine(), "host")


def check_host_profilable(path: Path) -> None:
    """Refuse (ValueError, exit 2) what cannot be timed meaningfully on this machine."""
    if target_of(path) == "coreml" and sys.platform != "darwin":
        raise BadInput(CORE_ML_ON_LINUX.format(system=platform.system() or sys.platform))


def profile_host(
    path: str | Path,
    threads: int | None = None,
    warmup: int = 5,
    runs: int = 50,
    breakdown_runs: int = 10,
    progress: Progress | None = None,
    timeout: float | None = None,
) -> ProfileResult:
    """Load the artifact in its runtime in a fresh subprocess, run `warmup` untimed and `runs`
    timed inferences on one random batch, and (with breakdown_runs > 0) time its operators."""
    path = checked_artifact(path)
    check_host_profilable(path)
    precision = precision_of(path)  # a malformed sidecar is refused before any work
    if runs < 1 or warmup < 0 or breakdown_runs < 0:
        raise BadInput(f"--runs must be >= 1 and --warmup, breakdown runs >= 0 (got runs {runs}, warm-up {warmup})")
    threads = threads or default_threads()
    if threads < 1:
        raise BadInput(f"--threads must be a positive integer, got {threads}")
    progress = progress or Progress()
    fd, out = tempfile.mkstemp(prefix="mvedge-profile-", suffix=".json")
    os.close(fd)
    command = [
        sys.executable, "-m", "mvedge.profile.worker", str(path),
        "--threads", str(threads), "--warmup", str(warmup), "--runs", str(runs),
        "--breakdown-runs", str(breakdown_runs), "--out", out,
    ]
    if progress.quiet:
        command.append("--quiet")
    try:
        env = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"), PYTHONWARNINGS="ignore")
        stderr = subprocess.DEVNULL if progress.quiet else None
        try:
            proc = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=stderr, timeout=timeout, env=env)
        except subprocess.TimeoutExpired as exc:
            raise ProfileFailed(f"profiling {path.name} took longer than {timeout:.0f} s") from exc
        text = Path(out).read_text()
        payload = json.loads(text) if text.strip() else {}
    finally:
        os.remove(out)
    if "error" in payload:
        if payload.get("unavailable"):
            raise ProfileFailed(f"{path.name} cannot run here: {payload['error']}")
        raise ProfileFailed(f"{path.name} failed in its runtime: {payload['error']}")
    if proc.returncode != 0 or not payload:
        raise ProfileFailed(f"the profiling subprocess for {path.name} exited with code {proc.returncode} and no result")
    samples = [round(s, 6) for s in payload["samples_ms"]]
    stats = latency_stats(samples)
    return ProfileResult(
        artifact=path.name,
        sha256=sha256_of(path),
        target=target_of(path),
        precision=precision,
        runtime=runtime_of(path),
        delegate=payload["delegate"],
        device=host_device(),
        threads=payload["threads"],
        warmup=warmup,
        runs=runs,
        load_ms=round(payload["load_ms"], 3),
        latency_ms={k: round(v, 6) for k, v in stats.items()},
        samples_ms=samples,
        throughput_fps=round(throughput(stats["p50"], payload.get("batch", 1)), 2),
        peak_memory_mb=round(payload["peak_memory_mb"], 2),
        operators=payload["operators"],
        notes=payload["notes"],
    )
