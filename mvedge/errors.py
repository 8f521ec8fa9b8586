"""The errors mvedge reports to users: one line, naming the problem and the fix, and an exit code.

The CLI catches `MvedgeError` (and Ctrl-C) only; anything else is a bug in mvedge or a toolchain
and keeps its traceback.
"""

from __future__ import annotations


class MvedgeError(Exception):
    """A user-facing failure; `exit_code` is what the `mvedge` command exits with."""

    exit_code: int = 2


class BadInput(MvedgeError, ValueError):
    """The request itself is wrong (a bad option, a missing or unreadable file): exit code 2.

    Also a ValueError, so library callers that catch ValueError keep working."""

    exit_code = 2


class Failed(MvedgeError, RuntimeError):
    """The request was sound but the work did not succeed (say, an artifact drifted past its
    threshold): exit code 1."""

    exit_code = 1


class NotFound(BadInput, FileNotFoundError):
    """A file or folder the user named does not exist: exit code 2.

    Also a FileNotFoundError, so library callers that catch it keep working."""

    exit_code = 2


INTERRUPTED_EXIT_CODE = 130
"""Exit code after Ctrl-C (128 + SIGINT), as shells report it."""
