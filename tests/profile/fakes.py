"""A fake command runner: records calls and answers them with a handler, like adb/xcrun would."""

from __future__ import annotations

from typing import Callable

from mvedge.profile.devices.commands import Completed


class FakeRunner:
    """`tools`: which executables exist; `handler(args)` returns (returncode, stdout) or a Completed."""

    def __init__(self, handler: Callable[[list[str]], object] | None = None, tools: tuple[str, ...] = ("adb", "xcrun")) -> None:
        self.handler = handler or (lambda args: (0, ""))
        self.tools = set(tools)
        self.calls: list[list[str]] = []

    def which(self, tool: str) -> str | None:
        return tool if tool in self.tools else None

    def run(self, args, timeout=None) -> Completed:
        args = list(args)
        self.calls.append(args)
        answer = self.handler(args)
        if isinstance(answer, Completed):
            return answer
        code, out = answer
        return Completed(args, code, out, "" if code == 0 else out)

    def commands(self, word: str) -> list[list[str]]:
        """The calls whose arguments contain `word` somewhere."""
        return [c for c in self.calls if any(word in a for a in c)]
