"""The `mvedge` command line: the build command and its errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

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


def test_console_script_runs() -> None:
    result = subprocess.run([sys.executable, "-m", "mvedge.cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and mvedge.__version__ in result.stdout


# --- mvedge convert / verify (embedded default model, ONNX: the lightest target) ---------------

onnx_only = pytest.mark.skipif(__import__("importlib").util.find_spec("onnxruntime") is None, reason="needs the onnx extra")


@onnx_only
def test_convert_default_model_writes_verified_artifact_and_table(tmp_path: Path, capsys) -> None:
    assert main(["convert", "--target", "onnx", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "onnx    fp32       verified" in out and "mambavision-digits-onnx-fp32.onnx" in out
    artifact = tmp_path / "mambavision-digits-onnx-fp32.onnx"
    assert artifact.is_file() and (tmp_path / (artifact.name + ".json")).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [artifact.name, artifact.name + ".json"]
    # the same artifact through `mvedge verify`, with a JSON report
    report = tmp_path / "report.json"
    assert main(["verify", str(artifact), "--json", str(report)]) == 0
    assert "result              PASS" in capsys.readouterr().out
    assert __import__("json").loads(report.read_text())["drift"]["top1_agreement"] == 1.0
    # existing output without --force: one line, exit 2, file untouched
    stamp = artifact.stat().st_mtime_ns
    assert main(["convert", "--target", "onnx", "--out", str(tmp_path)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("mvedge: error:")]
    assert len(errors) == 1 and "already exists; pass --force" in errors[0]
    assert artifact.stat().st_mtime_ns == stamp


@pytest.mark.parametrize(
    "args,message",
    [
        (["convert", "--target", "onnx", "--precision", "int4"], "does not support precision 'int4'"),
        (["convert", "--target", "onnx", "--weights", "/nonexistent.pth"], "does not exist"),
        (["convert", "--target", "onnx", "--image-size", "0"], "--image-size must be a positive integer"),
    ],
)
def test_convert_bad_input(args: list[str], message: str, tmp_path: Path, capsys) -> None:
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("mvedge: error:")]
    assert len(errors) == 1 and message in errors[0]
    assert not (tmp_path / "out").exists()


def test_convert_missing_extra_names_the_install(tmp_path: Path, capsys, monkeypatch) -> None:
    from converters.onnx import OnnxConverter

    monkeypatch.setattr(OnnxConverter, "modules", ("mvedge_no_such_module",))
    assert main(["convert", "--target", "onnx", "--out", str(tmp_path / "out")]) == 2
    assert 'pip install "mvedge[onnx]"' in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@onnx_only
def test_convert_empty_calibration_folder(tmp_path: Path, capsys, monkeypatch) -> None:
    from converters.onnx import OnnxConverter

    monkeypatch.setattr(OnnxConverter, "calibrated", frozenset({"fp32"}))  # make onnx fp32 ask for calibration
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["convert", "--target", "onnx", "--calibration", str(empty), "--out", str(tmp_path / "out")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("mvedge: error:")]
    assert len(errors) == 1 and "holds no images" in errors[0]
    assert not (tmp_path / "out").exists()


def test_verify_bad_input(tmp_path: Path, capsys) -> None:
    assert main(["verify", str(tmp_path / "missing.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err
    lone = tmp_path / "lone.onnx"
    lone.write_bytes(b"x")
    assert main(["verify", str(lone)]) == 2
    assert "has no sidecar" in capsys.readouterr().err
