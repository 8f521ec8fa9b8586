"""Print the shell commands of README.md's 'Quick start' section (CI runs exactly these).

Usage: python scripts/readme_commands.py main|test
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def quick_start_commands(text: str) -> list[str]:
    """The shell code blocks under the '## Quick start' heading, each must be one line."""
    match = re.search(r"^## Quick start\s*$(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    if not match:
        raise SystemExit("README.md has no '## Quick start' section")
    blocks = re.findall(r"^```(?:bash|sh|shell)?\s*\n(.*?)^```", match.group(1), flags=re.M | re.S)
    commands = [block.strip() for block in blocks]
    if len(commands) != 2 or any("\n" in c for c in commands):
        raise SystemExit("README.md's Quick start must hold exactly two one-line shell code blocks")
    return commands


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else ""
    if which not in ("main", "test"):
        raise SystemExit("usage: readme_commands.py main|test")
    main_cmd, test_cmd = quick_start_commands(README.read_text())
    print(main_cmd if which == "main" else test_cmd)


if __name__ == "__main__":
    main()
