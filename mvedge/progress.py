"""Progress display for long work: one line per stage on stderr, with elapsed time."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator, TextIO


class Progress:
    """Prints '[target] stage ... done (12.3 s)' lines; silent when quiet."""

    def __init__(self, prefix: str = "", stream: TextIO | None = None, quiet: bool = False) -> None:
        self.prefix = f"[{prefix}] " if prefix else ""
        self.stream = stream or sys.stderr
        self.quiet = quiet

    def note(self, message: str) -> None:
        """A one-off line."""
        if not self.quiet:
            print(f"{self.prefix}{message}", file=self.stream, flush=True)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Times a stage and reports its start and end."""
        self.note(f"{name} ...")
        start = time.perf_counter()
        yield
        self.note(f"{name} done ({time.perf_counter() - start:.1f} s)")

    def child(self, prefix: str) -> "Progress":
        """The same output with another prefix."""
        return Progress(prefix, self.stream, self.quiet)
