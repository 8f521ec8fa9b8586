"""README's Quick start: exactly two one-line commands, the ones .ci/run executes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from readme_commands import quick_start_commands  # noqa: E402


def test_quick_start_has_two_one_line_commands() -> None:
    main_cmd, test_cmd = quick_start_commands((ROOT / "README.md").read_text())
    assert "pip install torch==2.13.0" in main_cmd and "mvedge " in main_cmd
    assert "pytest" in test_cmd and '".[all,test]"' in test_cmd


def test_extraction_rejects_a_third_block() -> None:
    text = "## Quick start\n```bash\na\n```\n```bash\nb\n```\n```bash\nc\n```\n"
    with pytest.raises(SystemExit, match="exactly two"):
        quick_start_commands(text)


def test_ci_runs_the_readme_commands() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "readme_commands.py main" in ci and "readme_commands.py test" in ci
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "readme_commands.py"), "test"], capture_output=True, text=True)
    assert out.returncode == 0 and "pytest" in out.stdout
