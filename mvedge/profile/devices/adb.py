"""adb, found and checked once: which phone, shell, push, pull, and the phone as a profile's device."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from mvedge.profile.devices.commands import Completed, CommandRunner, DeviceError
from mvedge.profile.schema import Device

NO_ADB = (
    "adb is not installed or not on PATH: install Android SDK platform-tools "
    "(sdkmanager \"platform-tools\", or your system's android-tools package), connect a phone with USB debugging on, "
    "and check it with `adb devices`"
)


def find_adb(runner: CommandRunner) -> str:
    """adb on PATH, else in $ANDROID_HOME / $ANDROID_SDK_ROOT platform-tools; DeviceError when absent."""
    found = runner.which("adb")
    if found:
        return found
    for var in ("ANDROID_HOME", "ANDROID_SDK_ROOT"):
        root = os.environ.get(var)
        if root and (Path(root) / "platform-tools" / "adb").is_file():
            return str(Path(root) / "platform-tools" / "adb")
    raise DeviceError(NO_ADB)


def parse_devices(text: str) -> list[tuple[str, str]]:
    """(serial, state) pairs from `adb devices` output."""
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("List of devices") or line.startswith("*"):
            continue
        parts = line.split()
        if len(parts) >= 2:
            pairs.append((parts[0], parts[1]))
    return pairs


class Adb:
    """One attached Android device reached through adb (`serial`: which one, when several)."""

    def __init__(self, runner: CommandRunner | None = None, serial: str | None = None) -> None:
        self.runner = runner or CommandRunner()
        self.exe = find_adb(self.runner)
        self.serial = self._choose(serial)

    def _choose(self, serial: str | None) -> str:
        listed = self.runner.run([self.exe, "devices"], timeout=30)
        if listed.returncode != 0:
            raise DeviceError(f"`adb devices` failed: {(listed.stderr or listed.stdout).strip().splitlines()[-1:]}")
        devices = parse_devices(listed.stdout)
        states = dict(devices)
        if serial:
            if serial not in states:
                seen = ", ".join(f"{s} ({st})" for s, st in devices) or "none"
                raise DeviceError(f"no Android device {serial!r} is attached (adb devices lists: {seen})")
            if states[serial] != "device":
                raise DeviceError(f"Android device {serial} is {states[serial]}: unlock it and accept the USB debugging prompt")
            return serial
        ready = [s for s, st in devices if st == "device"]
        if not ready:
            others = f" ({', '.join(f'{s} is {st}' for s, st in devices)})" if devices else ""
            raise DeviceError(f"no Android device is attached and ready{others}: connect a phone with USB debugging on, or start an emulator")
        if len(ready) > 1:
            raise DeviceError(f"several Android devices are attached ({', '.join(ready)}); choose one with --device android:SERIAL")
        return ready[0]

    def run(self, *args: str, timeout: float | None = 120, check: bool = True) -> Completed:
        result = self.runner.run([self.exe, "-s", self.serial, *args], timeout=timeout)
        if check and result.returncode != 0:
            message = (result.stderr or result.stdout).strip().splitlines()
            raise DeviceError(f"adb {args[0]} failed on {self.serial}: {message[-1] if message else 'exit ' + str(result.returncode)}")
        return result

    def shell(self, command: str, timeout: float | None = 120, check: bool = True) -> str:
        return self.run("shell", command, timeout=timeout, check=check).stdout

    def push(self, local: str | Path, remote: str, timeout: float | None = 600) -> None:
        self.run("push", str(local), remote, timeout=timeout)

    def pull(self, remote: str, local: str | Path, timeout: float | None = 120) -> None:
        self.run("pull", remote, str(local), timeout=timeout)

    def getprop(self, name: str) -> str:
        return self.shell(f"getprop {shlex.quote(name)}", timeout=30).strip()

    def device(self, source: str) -> Device:
        """This phone as a profile's device."""
        maker, model = self.getprop("ro.product.manufacturer"), self.getprop("ro.product.model")
        name = f"{maker} {model}".strip() if model and maker and not model.lower().startswith(maker.lower()) else (model or maker or self.serial)
        return Device("android", name, f"Android {self.getprop('ro.build.version.release') or '?'}", self.getprop("ro.product.cpu.abi") or None, source)
