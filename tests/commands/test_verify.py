"""`mvedge verify`: refusals before any work (the whole command runs in test_convert and test_model_resolution)."""

from __future__ import annotations

from pathlib import Path

from mvedge.cli import main


def test_verify_bad_input(tmp_path: Path, capsys) -> None:
    assert main(["verify", str(tmp_path / "missing.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err
    lone = tmp_path / "lone.onnx"
    lone.write_bytes(b"x")
    assert main(["verify", str(lone)]) == 2
    assert "has no sidecar" in capsys.readouterr().err
