"""Running a command the way a user does and reading its one-line error."""

from __future__ import annotations

from mvedge.cli import main


def error_line(capsys, argv: list[str]) -> str:
    """Run `mvedge argv`, expect exit 2 with `mvedge: error: ...` as the last line of stderr, return that line."""
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert err and err[-1].startswith("mvedge: error: "), err
    return err[-1]
