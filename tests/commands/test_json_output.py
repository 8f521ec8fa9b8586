"""One JSON convention for every reporting command: `--json -` puts only the JSON on stdout (the
command's own lines go to stderr); `--json FILE` writes the same report to FILE."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

import converters.pipeline
from converters.base import ConversionError, Converter
from mvedge.cli import main

onnx_only = pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="needs the onnx extra")


def json_only(capsys) -> tuple[object, str]:
    """stdout parsed as JSON (nothing else may be there), and stderr."""
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


@onnx_only
def test_convert_json_lists_the_artifacts_their_sidecars_and_drift(tmp_path: Path, capsys) -> None:
    assert main(["convert", "--target", "onnx", "--out", str(tmp_path / "a"), "--json", "-"]) == 0
    payload, err = json_only(capsys)
    (entry,) = payload["artifacts"]
    assert (entry["target"], entry["precision"], entry["status"]) == ("onnx", "fp32", "verified")
    assert Path(entry["path"]).is_file() and Path(entry["sidecar"]).is_file() and entry["sidecar"] == entry["path"] + ".json"
    assert entry["drift"]["top1_agreement"] == 1.0 and "sha256" in entry
    assert "onnx" in err and "verified" in err  # the table, on stderr
    report = tmp_path / "convert.json"
    assert main(["convert", "--target", "onnx", "--no-verify", "--out", str(tmp_path / "b"), "--json", str(report)]) == 0
    assert "converted" in capsys.readouterr().out
    assert json.loads(report.read_text())["artifacts"][0]["drift"] is None


@pytest.fixture
def failing_conversions(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(bundle, target, precision, *args, **kwargs):
        raise ConversionError(f"{target} {precision}: not converted here")

    monkeypatch.setattr(converters.pipeline, "convert", fail)
    monkeypatch.setattr(Converter, "check_available", lambda self: None)


def test_benchmark_json_to_stdout_is_the_benchmark_json_payload(failing_conversions, tmp_path: Path, capsys) -> None:
    assert main(["benchmark", "--target", "onnx,tflite", "--precision", "fp32", "--no-verify", "--out", str(tmp_path), "--json", "-"]) == 1
    payload, err = json_only(capsys)
    assert payload["schema"] == "mvedge.benchmark/1"
    assert [(r["target"], r["status"]) for r in payload["rows"]] == [("onnx", "failed"), ("tflite", "failed")]
    assert json.loads((tmp_path / "benchmark.json").read_text()) == payload  # its own file is still written
    assert "failed" in err


def test_benchmark_json_file(failing_conversions, tmp_path: Path, capsys) -> None:
    report = tmp_path / "copy.json"
    assert main(["benchmark", "--target", "onnx", "--precision", "fp32", "--no-verify", "--out", str(tmp_path / "b"), "--json", str(report)]) == 1
    assert "failed" in capsys.readouterr().out
    assert json.loads(report.read_text()) == json.loads((tmp_path / "b" / "benchmark.json").read_text())


def test_qat_json_to_stdout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_checkpoint: Path, digits_folder: Path, capsys) -> None:
    pytest.importorskip("torchao")
    from mvedge.quant import qat

    def train(model, folder, preprocessing, config, progress, ranks):
        return qat.QATResult(model=model, epochs=[{"loss": 0.5}], steps=1, seconds=0.1)

    monkeypatch.setattr(qat, "train", train)
    out = tmp_path / "tuned.safetensors"
    argv = ["qat", "--target", "executorch", "--weights", str(tiny_checkpoint), "--data", str(digits_folder), "--limit", "4", "--out", str(out)]
    assert main([*argv, "--json", "-"]) == 0
    payload, err = json_only(capsys)
    assert payload["checkpoint"] == str(out) and payload["target"] == "executorch" and payload["steps"] == 1
    assert f"wrote {out}" in err and out.is_file()


def test_quant_report_json_to_stdout(monkeypatch: pytest.MonkeyPatch, tiny_checkpoint: Path, capsys) -> None:
    pytest.importorskip("executorch")
    from mvedge.quant import sensitivity

    report = sensitivity.SensitivityReport.__new__(sensitivity.SensitivityReport)
    monkeypatch.setattr(sensitivity, "pt2e_sensitivity", lambda *args, **kwargs: report)
    monkeypatch.setattr(sensitivity, "format_report", lambda r, top=None: "the ranking table")
    monkeypatch.setattr(sensitivity.SensitivityReport, "to_dict", lambda self: {"ranked": []})
    argv = ["quant-report", "--target", "executorch", "--weights", str(tiny_checkpoint), "--limit", "4", "--calibration-limit", "4"]
    assert main([*argv, "--json", "-"]) == 0
    payload, err = json_only(capsys)
    assert payload["ranked"] == [] and "model" in payload and "the ranking table" in err
