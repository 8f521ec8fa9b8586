"""The one JSON convention of every reporting command: `--json FILE` writes the report to FILE
atomically; `--json -` writes only the JSON to stdout and everything else to stderr."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any, Iterator

from mvedge import strict_json

STDOUT = "-"


def add_json_argument(parser: argparse.ArgumentParser, what: str = "the report") -> None:
    """Add `--json FILE|-` to a command's parser."""
    parser.add_argument(
        "--json", metavar="FILE",
        help=f"write {what} as JSON to FILE ('-': only the JSON on stdout, everything else on stderr)",
    )


def json_to_stdout(target: str | None) -> bool:
    """Whether `--json -` was given (the command's own lines then go to stderr)."""
    return target == STDOUT


@contextlib.contextmanager
def human_lines(target: str | None) -> Iterator[None]:
    """Within this block, what the command prints goes to stderr when stdout carries the JSON."""
    if json_to_stdout(target):
        with contextlib.redirect_stdout(sys.stderr):
            yield
    else:
        yield


def emit_json(target: str | None, payload: Any) -> None:
    """Write the report where `--json` says: nowhere (None), stdout ('-') or a file, atomically."""
    if target is None:
        return
    if json_to_stdout(target):
        sys.stdout.write(strict_json.dumps(payload, indent=1) + "\n")
        sys.stdout.flush()
    else:
        strict_json.write_atomic(Path(target), payload)
