"""Profile on an iPhone (or the iOS simulator) in the ios_demo app's benchmark mode, via Xcode's
command-line tools on a Mac.

Contract with ios_demo (bundle id dev.mvedge.demo): launch arguments
`--benchmark --artifact NAME --runs N --warmup N --compute-units U --result FILE`; the app writes an
"mvedge.profile/1" JSON to Documents/FILE and prints `MVEDGE BENCHMARK_DONE <path>`.
Device: `xcrun devicectl device process launch --device UDID --terminate-existing dev.mvedge.demo -- ARGS`,
result fetched with `xcrun devicectl device copy from ... --source Documents/FILE`; the artifact (and
its sidecar, when there is one) goes to the app's Documents with `xcrun devicectl device copy to` (skipped with push=False when
`mvedge bundle` already put it in the app). Simulator: `xcrun simctl launch` and the app's data
container from `xcrun simctl get_app_container booted dev.mvedge.demo data`.
Nothing here can run on Linux: it needs macOS with Xcode 15 or later.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable

from mvedge.artifact import sha256_of, sidecar_path
from mvedge.errors import BadInput
from mvedge.profile.devices.commands import CommandRunner, DeviceError, poll
from mvedge.profile.host import ProfileFailed
from mvedge.profile.schema import ProfileResult, consistency_notes, from_dict

BUNDLE_ID = "dev.mvedge.demo"
COMPUTE_UNITS = ("all", "cpuOnly", "cpuAndGPU", "cpuAndNeuralEngine")
SIMULATOR = "simulator"


def parse_devicectl_devices(data: dict) -> list[dict[str, str]]:
    """udid, name, model, os of each device in `xcrun devicectl list devices --json-output FILE`
    output ({"result": {"devices": [{"hardwareProperties": {"udid", "marketingName", ...},
    "deviceProperties": {"name", "osVersionNumber"}, "connectionProperties": {"tunnelState", ...}}]}})."""
    devices = []
    for dev in (data.get("result") or {}).get("devices") or []:
        hardware, props = dev.get("hardwareProperties") or {}, dev.get("deviceProperties") or {}
        connection = dev.get("connectionProperties") or {}
        if hardware.get("platform", "iOS") != "iOS" or not hardware.get("udid"):
            continue
        devices.append(
            {
                "udid": hardware["udid"],
                "name": props.get("name", ""),
                "model": hardware.get("marketingName") or hardware.get("productType") or "iPhone",
                "os": f"iOS {props.get('osVersionNumber', '?')}",
                "state": connection.get("tunnelState") or connection.get("pairingState") or "",
            }
        )
    return devices


def launch_arguments(artifact_name: str, runs: int, warmup: int, compute_units: str, result_name: str) -> list[str]:
    """The app's benchmark-mode launch arguments (the contract's)."""
    return ["--benchmark", "--artifact", artifact_name, "--runs", str(runs), "--warmup", str(warmup), "--compute-units", compute_units, "--result", result_name]


class Xcrun:
    """xcrun on a Mac; DeviceError anywhere else."""

    def __init__(self, runner: CommandRunner | None = None, platform: str = sys.platform) -> None:
        self.runner = runner or CommandRunner()
        if platform != "darwin":
            raise DeviceError(
                f"--device ios needs a Mac with Xcode 15+ (xcrun devicectl / simctl); this machine runs {platform}: "
                "run `mvedge profile ARTIFACT --device ios` on the Mac the iPhone is connected to"
            )
        if not self.runner.which("xcrun"):
            raise DeviceError("xcrun is not on PATH: install Xcode and its command-line tools (xcode-select --install)")

    def run(self, *args: str, timeout: float | None = 300, check: bool = True):
        result = self.runner.run(["xcrun", *args], timeout=timeout)
        if check and result.returncode != 0:
            lines = (result.stderr or result.stdout).strip().splitlines()
            raise DeviceError(f"xcrun {' '.join(args[:3])} failed: {lines[-1] if lines else 'exit ' + str(result.returncode)}")
        return result

    def devices(self) -> list[dict[str, str]]:
        with tempfile.TemporaryDirectory(prefix="mvedge-devicectl-") as tmp:
            out = Path(tmp) / "devices.json"
            self.run("devicectl", "list", "devices", "--json-output", str(out), timeout=60)
            return parse_devicectl_devices(json.loads(out.read_text()))

    def choose(self, udid: str | None) -> dict[str, str]:
        devices = self.devices()
        if udid:
            match = [d for d in devices if d["udid"] == udid]
            if not match:
                raise DeviceError(f"no iOS device {udid} (devicectl lists: {', '.join(d['udid'] for d in devices) or 'none'})")
            return match[0]
        if not devices:
            raise DeviceError("no iOS device is connected (xcrun devicectl list devices lists none): connect and pair an iPhone, or use --device ios:simulator")
        if len(devices) > 1:
            raise DeviceError(f"several iOS devices are connected ({', '.join(d['udid'] for d in devices)}); choose one with --device ios:UDID")
        return devices[0]


def profile_ios_demo(
    xcrun: Xcrun,
    artifact: Path,
    udid: str | None,
    warmup: int,
    runs: int,
    compute_units: str = "all",
    push: bool = True,
    timeout: float = 900,
    sleep: Callable[[float], None] = time.sleep,
) -> ProfileResult:
    """Copy the model to the app (unless bundled), launch its benchmark mode, fetch its result."""
    if artifact.suffix not in (".mlpackage", ".mlmodelc"):
        raise DeviceError(f"the ios_demo app runs Core ML models (.mlpackage, .mlmodelc), not {artifact.suffix}")
    if compute_units not in COMPUTE_UNITS:
        raise BadInput(f"--compute-units must be one of {', '.join(COMPUTE_UNITS)}, got {compute_units!r}")
    result_name = f"mvedge-{artifact.stem}-{uuid.uuid4().hex[:12]}.json"
    args = launch_arguments(artifact.name, runs, warmup, compute_units, result_name)
    with tempfile.TemporaryDirectory(prefix="mvedge-ios-") as tmp:
        local = Path(tmp) / result_name
        if udid == SIMULATOR:
            container = Path(xcrun.run("simctl", "get_app_container", "booted", BUNDLE_ID, "data", timeout=60).stdout.strip())
            documents = container / "Documents"
            documents.mkdir(parents=True, exist_ok=True)
            if push:
                target = documents / artifact.name
                if target.exists():
                    shutil.rmtree(target) if target.is_dir() else target.unlink()
                (shutil.copytree if artifact.is_dir() else shutil.copy2)(artifact, target)
                if sidecar_path(artifact).is_file():
                    shutil.copy2(sidecar_path(artifact), documents / sidecar_path(artifact).name)
            xcrun.run("simctl", "launch", "--terminate-running-process", "booted", BUNDLE_ID, *args, timeout=120)
            found = poll(lambda: (documents / result_name).is_file() and (documents / result_name), timeout, 2.0, sleep)
            if found:
                shutil.copy2(documents / result_name, local)
        else:
            device = xcrun.choose(udid)
            common = ["--device", device["udid"], "--domain-type", "appDataContainer", "--domain-identifier", BUNDLE_ID]
            if push:
                for local_file in [artifact] + ([sidecar_path(artifact)] if sidecar_path(artifact).is_file() else []):
                    xcrun.run("devicectl", "device", "copy", "to", *common, "--source", str(local_file), "--destination", f"Documents/{local_file.name}", timeout=600)
            xcrun.run("devicectl", "device", "process", "launch", "--device", device["udid"], "--terminate-existing", BUNDLE_ID, "--", *args, timeout=120)
            fetch = ["devicectl", "device", "copy", "from", *common, "--source", f"Documents/{result_name}", "--destination", str(local)]
            found = poll(lambda: xcrun.run(*fetch, timeout=120, check=False).returncode == 0 and local.is_file(), timeout, 3.0, sleep)
        if not found:
            raise ProfileFailed(f"the ios_demo app wrote no Documents/{result_name} within {timeout:.0f} s (is its benchmark mode built in?)")
        try:
            data = json.loads(local.read_text())
        except json.JSONDecodeError as exc:
            raise ProfileFailed(f"the ios_demo app's result is not JSON: {exc.msg}") from exc
    result = from_dict(data, "ios_demo result")
    if result.sha256 is None:
        result.sha256 = sha256_of(artifact)
    result.notes += consistency_notes(result)
    return result
