"""The `mvedge` entry point itself (each command's tests are in tests/commands/)."""

from __future__ import annotations

import subprocess
import sys

import mvedge


def test_console_script_runs() -> None:
    result = subprocess.run([sys.executable, "-m", "mvedge.cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and mvedge.__version__ in result.stdout
