"""`mvedge profile`: tables, JSON output, gathering saved results, and one-line errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mvedge.cli import main


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("mvedge: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_profile_prints_table_and_writes_json(tiny_onnx: Path, tiny_tflite: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "reports" / "both.json"
    code = main(["profile", str(tiny_onnx), str(tiny_tflite), "--runs", "3", "--warmup", "1", "--threads", "1", "--breakdown-runs", "2", "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "latency      p50" in text and "per-operator breakdown (mean per run)" in text and "not available from LiteRT" in text
    assert "artifact" in text.splitlines()[-3] and "p50 ms" in text.splitlines()[-3]  # the comparison table
    saved = json.loads(out.read_text())
    assert [r["artifact"] for r in saved] == [tiny_onnx.name, tiny_tflite.name]
    assert [p.name for p in out.parent.iterdir()] == ["both.json"]  # written atomically, nothing else left
    # each saved result can be gathered again, e.g. next to a phone's
    single = tmp_path / "onnx.json"
    single.write_text(json.dumps(saved[0]))
    phone = tmp_path / "phone.json"
    phone.write_text(json.dumps(dict(saved[1], device={"platform": "android", "model": "Pixel 8", "os": "Android 14", "abi": "arm64-v8a", "source": "android_demo"})))
    assert main(["profile", str(single), str(phone)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["artifact", "target", "precision"] and "Pixel 8" in table[2] and "host" in table[1]
    # the saved file of several results is read back as it is
    assert main(["profile", str(out), str(phone), "--json", "-"]) == 0
    captured = capsys.readouterr()
    gathered = json.loads(captured.out)
    assert [(r["artifact"], r["device"]["model"]) for r in gathered] == [(r["artifact"], r["device"]["model"]) for r in saved] + [
        (tiny_tflite.name, "Pixel 8")
    ]
    assert main(["profile", str(out)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in table[1:3]] == [tiny_onnx.name, tiny_tflite.name]


def test_profile_json_to_stdout(tiny_onnx: Path, capsys) -> None:
    assert main(["profile", str(tiny_onnx), "--runs", "2", "--warmup", "0", "--no-breakdown", "--json", "-"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["schema"] == "mvedge.profile/1" and len(data["samples_ms"]) == 2 and data["operators"] is None
    assert captured.err == ""  # no progress lines mixed in


@pytest.mark.parametrize(
    "args,message",
    [
        (["profile", "/nonexistent/m.onnx"], "does not exist"),
        (["profile", "{onnx}", "{onnx}.json"], "not both"),
        (["profile", "{onnx}", "--runs", "0"], "--runs must be >= 1"),
        (["profile", "{onnx}", "--threads", "0"], "--threads must be a positive integer"),
        (["profile", "{onnx}", "--device", "pixel"], "unknown --device 'pixel'"),
        (["profile", "{txt}"], "unknown artifact type '.txt'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message: str, tiny_onnx: Path, tmp_path: Path, capsys) -> None:
    txt = tmp_path / "m.txt"
    txt.write_text("x")
    args = [a.format(onnx=tiny_onnx, txt=txt) for a in args]
    assert main(args) == 2
    assert message in _one_error_line(capsys)


@pytest.mark.skipif(sys.platform == "darwin", reason="Core ML runs on macOS")
def test_core_ml_on_linux_points_to_ios(tmp_path: Path, capsys) -> None:
    package = tmp_path / "m.mlpackage"
    package.mkdir()
    assert main(["profile", str(package)]) == 2
    assert "--device ios" in _one_error_line(capsys)


def test_missing_adb_is_one_line(tiny_onnx: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no adb anywhere
    monkeypatch.delenv("ANDROID_HOME", raising=False)
    monkeypatch.delenv("ANDROID_SDK_ROOT", raising=False)
    tflite = tmp_path / "m.tflite"
    tflite.write_bytes(b"x")
    assert main(["profile", str(tflite), "--device", "android"]) == 2
    assert "adb is not installed or not on PATH" in _one_error_line(capsys)


def test_broken_artifact_exits_1(tmp_path: Path, capsys) -> None:
    pytest.importorskip("onnxruntime")
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"junk")
    assert main(["profile", str(bad), "--runs", "1"]) == 1
    assert "broken.onnx failed in its runtime" in _one_error_line(capsys)
