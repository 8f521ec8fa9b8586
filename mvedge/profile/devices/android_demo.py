"""Profile on an Android phone in the android_demo app's benchmark mode (see docs in device_contract).

Contract with android_demo: the host pushes the artifact (and its sidecar) to
/data/local/tmp/mvedge/ (and to the app's external files dir models/, which the app reads when
SELinux keeps it out of /data/local/tmp), starts dev.mvedge.demo/.BenchmarkActivity with the artifact, runtime,
threads, runs, warm-up and result file name as intent extras; the app writes an "mvedge.profile/1"
JSON to its external files dir (benchmark/<result>) and logs `BENCHMARK_DONE <path>` (or
`BENCHMARK_FAILED <reason>`) with tag MVEDGE. The host polls logcat, then pulls the file.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable

from mvedge.artifact import sha256_of, sidecar_path, target_of
from mvedge.profile.devices.adb import Adb
from mvedge.profile.devices.commands import DeviceError, poll
from mvedge.profile.host import ProfileFailed
from mvedge.profile.schema import ProfileResult, consistency_notes, from_dict

PACKAGE = "dev.mvedge.demo"
ACTIVITY = f"{PACKAGE}/.BenchmarkActivity"
REMOTE_DIR = "/data/local/tmp/mvedge"
APP_MODELS_DIR = f"/sdcard/Android/data/{PACKAGE}/files/models"  # where the app looks when /data/local/tmp is unreadable to it
RUNTIMES = {"tflite": "litert", "executorch": "executorch"}
_STATUS = re.compile(r"BENCHMARK_(DONE|FAILED)\s+(.+?)\s*$")


def parse_logcat(text: str) -> tuple[str, str] | None:
    """("DONE", result path) or ("FAILED", reason) from `adb logcat -d -s MVEDGE` output, or None."""
    found = None
    for line in text.splitlines():
        match = _STATUS.search(line)
        if match:
            found = (match.group(1), match.group(2))
    return found


def start_command(remote_artifact: str, runtime: str, threads: int, runs: int, warmup: int, result_name: str) -> str:
    """The `am start` line of the contract."""
    return (
        f"am start -W -n {ACTIVITY} --es artifact {remote_artifact} --es runtime {runtime} "
        f"--ei threads {threads} --ei runs {runs} --ei warmup {warmup} --es result {result_name}"
    )


def profile_android_demo(
    adb: Adb,
    artifact: Path,
    threads: int,
    warmup: int,
    runs: int,
    timeout: float = 600,
    sleep: Callable[[float], None] = time.sleep,
) -> ProfileResult:
    """Push, run in the app's benchmark mode, read back its result."""
    target = target_of(artifact)
    if target not in RUNTIMES:
        raise DeviceError(f"the android_demo app runs .tflite (LiteRT) and .pte (ExecuTorch) artifacts, not {artifact.suffix}")
    if f"package:{PACKAGE}" not in adb.shell(f"pm list packages {PACKAGE}", timeout=60).split():
        raise DeviceError(
            f"the android_demo app ({PACKAGE}) is not installed on {adb.serial}: build and install it (android_demo/README.md), "
            "or use a runtime's own tool: --tool benchmark_model (LiteRT) or --tool executorch_benchmark (ExecuTorch)"
        )
    remote = f"{REMOTE_DIR}/{artifact.name}"
    for folder in (REMOTE_DIR, APP_MODELS_DIR):  # SELinux keeps most apps out of /data/local/tmp: push to both
        adb.shell(f"mkdir -p {folder}")
        adb.push(artifact, f"{folder}/{artifact.name}")
        if sidecar_path(artifact).is_file():
            adb.push(sidecar_path(artifact), f"{folder}/{artifact.name}.json")
    result_name = f"mvedge-{artifact.stem}-{uuid.uuid4().hex[:12]}.json"
    adb.run("logcat", "-c", timeout=30)
    adb.shell(start_command(remote, RUNTIMES[target], threads, runs, warmup, result_name), timeout=120)
    status = poll(lambda: parse_logcat(adb.run("logcat", "-d", "-s", "MVEDGE", timeout=30).stdout), timeout, 2.0, sleep)
    if status is None:
        raise ProfileFailed(f"the android_demo app reported nothing within {timeout:.0f} s (see `adb -s {adb.serial} logcat -s MVEDGE`)")
    kind, detail = status
    if kind == "FAILED":
        raise ProfileFailed(f"the android_demo app could not profile {artifact.name}: {detail}")
    with tempfile.TemporaryDirectory(prefix="mvedge-android-") as tmp:
        local = Path(tmp) / result_name
        adb.pull(detail, local)
        try:
            data = json.loads(local.read_text())
        except json.JSONDecodeError as exc:
            raise ProfileFailed(f"the android_demo app's result {detail} is not JSON: {exc.msg}") from exc
    result = from_dict(data, f"android_demo result {detail}")
    if result.sha256 is None:
        result.sha256 = sha256_of(artifact)
    result.notes += consistency_notes(result)
    return result
