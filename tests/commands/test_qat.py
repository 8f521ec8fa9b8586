"""`mvedge qat` from the command line: bad input gives one `mvedge: error:` line and exit 2 with
nothing written."""

from __future__ import annotations

from pathlib import Path

from tests.commands.cli import error_line
from tests.conftest import write_digits


def test_qat_refuses_bad_input_before_any_work(capsys, tmp_path: Path, digits_folder: Path) -> None:
    out = tmp_path / "out.safetensors"
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "broken"
    write_digits(broken, 3)
    (next(broken.iterdir()) / "bad.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    loose = write_digits(tmp_path / "loose", 3, by_class=False)
    assert "target onnx has no int8 recipe" in error_line(capsys, ["qat", "--target", "onnx", "--data", str(digits_folder), "--out", str(out)])
    assert "holds no images" in error_line(capsys, ["qat", "--target", "executorch", "--data", str(empty), "--out", str(out)])
    assert "bad.jpg' cannot be read" in error_line(capsys, ["qat", "--target", "executorch", "--data", str(broken), "--out", str(out)])
    assert "class subfolder" in error_line(capsys, ["qat", "--target", "executorch", "--data", str(loose), "--labels", "--out", str(out)])
    assert "--epochs must be >= 1" in error_line(capsys, ["qat", "--target", "executorch", "--data", str(digits_folder), "--epochs", "0", "--out", str(out)])
    assert "names no block" in error_line(capsys, ["qat", "--target", "executorch", "--data", str(digits_folder), "--exclude", "levels.7", "--out", str(out)])
    out.write_bytes(b"")
    assert "already exists" in error_line(capsys, ["qat", "--target", "executorch", "--data", str(digits_folder), "--out", str(out)])
    assert out.read_bytes() == b"" and not list(tmp_path.glob(".mvedge-*"))
