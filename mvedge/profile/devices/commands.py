"""Running device tools (adb, xcrun) through one small, replaceable runner, so tests can fake them."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from mvedge.errors import BadInput


class DeviceError(BadInput):
    """A device or its tools are missing or refused the work: one clear line, exit code 2."""


@dataclass
class Completed:
    """What a tool printed and how it exited."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str = ""


class CommandRunner:
    """Runs external commands; `which` finds tools. Tests pass a fake with the same two methods."""

    def which(self, tool: str) -> str | None:
        return shutil.which(tool)

    def run(self, args: Sequence[str], timeout: float | None = 120) -> Completed:
        try:
            proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise DeviceError(f"`{' '.join(args[:4])} ...` did not finish within {timeout:.0f} s") from exc
        except FileNotFoundError as exc:
            raise DeviceError(f"{args[0]} is not installed or not on PATH") from exc
        return Completed(list(args), proc.returncode, proc.stdout, proc.stderr)


def poll(check: Callable[[], object], timeout: float, interval: float = 1.0, sleep: Callable[[float], None] = time.sleep) -> object:
    """Call `check` until it returns something truthy or `timeout` seconds pass (then None)."""
    waited = 0.0
    while True:
        value = check()
        if value:
            return value
        if waited >= timeout:
            return None
        sleep(interval)
        waited += interval
