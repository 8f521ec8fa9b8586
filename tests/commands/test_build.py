"""`mvedge build`: the summary, the atomic --out and its one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

import mvedge
from mvedge.cli import main


def test_build_default_prints_summary(capsys: pytest.CaptureFixture) -> None:
    assert main(["build", "--variant", "T", "--image-size", "64"]) == 0
    out = capsys.readouterr().out
    assert "parameters   31,794,248" in out and "(1, 1000)" in out


def test_build_saves_weights_atomically_and_refuses_overwrite(tmp_path: Path, capsys) -> None:
    out = tmp_path / "t.safetensors"
    assert main(["build", "--image-size", "32", "--out", str(out)]) == 0
    assert out.is_file() and not list(tmp_path.glob(".mvedge-*"))
    reloaded = mvedge.load_checkpoint(out)
    assert reloaded.variant == "T"
    assert main(["build", "--image-size", "32", "--out", str(out)]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert main(["build", "--image-size", "32", "--out", str(out), "--force"]) == 0


@pytest.mark.parametrize(
    "args,message",
    [
        (["build", "--variant", "Q"], "unknown variant 'Q'"),
        (["build", "--weights", "/nonexistent/w.pth"], "does not exist"),
        (["build", "--image-size", "0"], "--image-size must be a positive integer"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, capsys) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("mvedge: error: ")


def test_unreadable_checkpoint(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"junk")
    assert main(["build", "--weights", str(bad)]) == 2
    assert "not a readable PyTorch" in capsys.readouterr().err
