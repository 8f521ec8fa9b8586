"""Progress display for long work: one line per stage on stderr, with elapsed time."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator, TextIO


_defaults = {"quiet": False}


def set_quiet(quiet: bool) -> None:
    """Make every Progress made from now on silent (`mvedge --quiet`: only errors and the final table)."""
    _defaults["quiet"] = quiet


class Progress:
    """Prints '[target] stage ... done (12.3 s)' lines; silent when quiet, and always after
    `set_quiet(True)`."""

    def __init__(self, prefix: str = "", stream: TextIO | None = None, quiet: bool = False) -> None:
        self.prefix = f"[{prefix}] " if prefix else ""
        self.stream = stream or sys.stderr
        self.quiet = quiet or _defaults["quiet"]

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

    def counter(self, total: int, what: str = "images", every: int | None = None, after_s: float = 0.0) -> "Counter":
        """A counter for a slow loop over `total` items: a line every `every` items (default: about
        every tenth) with the count and the elapsed time, once `after_s` seconds have passed (a
        fast loop stays silent)."""
        return Counter(self, total, what, every or max(1, total // 10), after_s)

    def child(self, prefix: str) -> "Progress":
        """The same output with another prefix."""
        return Progress(prefix, self.stream, self.quiet)


class Counter:
    """Counts items done and prints '12/100 images (3.4 s)' every `every` items and at the end,
    once `after_s` seconds have passed."""

    def __init__(self, progress: Progress, total: int, what: str, every: int, after_s: float = 0.0) -> None:
        self.progress, self.total, self.what, self.every, self.after_s = progress, total, what, every, after_s
        self.done = 0
        self.start = time.perf_counter()

    def add(self, count: int = 1) -> None:
        """Record `count` more items done."""
        before, self.done = self.done, self.done + count
        elapsed = time.perf_counter() - self.start
        if elapsed >= self.after_s and (self.done // self.every > before // self.every or self.done >= self.total > before):
            self.progress.note(f"{self.done}/{self.total} {self.what} ({elapsed:.1f} s)")
