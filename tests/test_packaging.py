"""Packaging: the version is set once (mvedge.__version__) and setuptools reads it from there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import mvedge

ROOT = Path(__file__).resolve().parent.parent


def test_version_has_one_source() -> None:
    """pyproject.toml declares no version of its own; the one setuptools computes is mvedge.__version__,
    read without importing the package (so building metadata does not need torch)."""
    pytest.importorskip("setuptools.config.pyprojecttoml")
    code = (
        "import sys\n"
        "from setuptools.config.pyprojecttoml import read_configuration\n"
        "raw = read_configuration('pyproject.toml', expand=False)['project']\n"
        "assert 'version' not in raw and 'version' in raw['dynamic'], raw.get('version')\n"
        "print(read_configuration('pyproject.toml')['project']['version'])\n"
        "assert 'torch' not in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == mvedge.__version__
