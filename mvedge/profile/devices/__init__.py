"""Profiling on phones and device farms, with the host profile's result format.

`--device` values: `android[:SERIAL]` (adb), `ios[:UDID]` or `ios:simulator` (xcrun, on a Mac),
`qai-hub:DEVICE NAME` (Qualcomm AI Hub, needs an account). On Android, `tool` picks what runs the
model: the android_demo app (`app`, default), LiteRT's `benchmark_model`, or ExecuTorch's Android
benchmark app (`executorch_benchmark`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mvedge.profile.devices.commands import CommandRunner, DeviceError
from mvedge.profile.schema import ProfileResult

KINDS = ("android", "ios", "qai-hub")
ANDROID_TOOLS = ("app", "benchmark_model", "executorch_benchmark")


@dataclass(frozen=True)
class DeviceSpec:
    """A parsed --device value: kind and, optionally, which device."""

    kind: str
    ident: str | None = None


def parse_device(value: str) -> DeviceSpec:
    """`android`, `android:SERIAL`, `ios`, `ios:UDID`, `ios:simulator`, `qai-hub:NAME`."""
    kind, _, ident = value.partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise DeviceError(f"unknown --device {value!r}; use android[:SERIAL], ios[:UDID|:simulator] or qai-hub:DEVICE NAME")
    return DeviceSpec(kind, ident.strip() or None)


def profile_on_device(
    artifact: Path,
    spec: DeviceSpec,
    threads: int,
    warmup: int,
    runs: int,
    breakdown: bool = True,
    tool: str = "app",
    benchmark_model: str | None = None,
    compute_units: str = "all",
    push: bool = True,
    runner: CommandRunner | None = None,
    timeout: float = 900,
) -> ProfileResult:
    """Run the artifact on the device `spec` names and return its profile."""
    runner = runner or CommandRunner()
    if spec.kind == "android":
        from mvedge.profile.devices.adb import Adb

        if tool not in ANDROID_TOOLS:
            raise DeviceError(f"--tool must be one of {', '.join(ANDROID_TOOLS)}, got {tool!r}")
        adb = Adb(runner, spec.ident)
        if tool == "benchmark_model":
            from mvedge.profile.devices.benchmark_model import profile_benchmark_model

            return profile_benchmark_model(adb, artifact, benchmark_model, threads, warmup, runs, breakdown, timeout)
        if tool == "executorch_benchmark":
            from mvedge.profile.devices.executorch_benchmark import profile_minibench

            return profile_minibench(adb, artifact, warmup, runs, timeout)
        from mvedge.profile.devices.android_demo import profile_android_demo

        return profile_android_demo(adb, artifact, threads, warmup, runs, timeout)
    if spec.kind == "ios":
        from mvedge.profile.devices.ios_demo import Xcrun, profile_ios_demo

        return profile_ios_demo(Xcrun(runner), artifact, spec.ident, warmup, runs, compute_units, push, timeout)
    from mvedge.profile.devices.qai_hub import profile_qai_hub

    return profile_qai_hub(artifact, spec.ident or "")


__all__ = ["ANDROID_TOOLS", "DeviceError", "DeviceSpec", "parse_device", "profile_on_device"]
