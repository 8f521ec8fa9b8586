"""`mvedge benchmark`: the plan, the table's columns, CSV/JSON/PNG written atomically, failures as
rows, and a missing matplotlib costing only the chart."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import pytest

from mvedge.cli import main
from mvedge.commands.benchmark import _write_reports, plan
from mvedge.profile.matrix import CORE_ML_NOT_PROFILED, CSV_HEADER, TABLE_HEADER, BenchmarkRow

pytest.importorskip("onnxruntime")


def test_plan() -> None:
    from converters.base import BadRequest
    from converters.registry import TARGETS, get_converter

    everything = plan("all", "all")
    assert everything == [(t, p) for t in TARGETS for p in get_converter(t).precisions]
    assert plan("onnx,tflite", "fp32") == [("onnx", "fp32"), ("tflite", "fp32")]
    int8 = plan("all", "int8")
    assert int8 == [(t, "int8") for t in TARGETS if "int8" in get_converter(t).precisions]
    assert {("tflite", "int8"), ("executorch", "int8")} <= set(int8) and ("onnx", "int8") not in int8
    with pytest.raises(BadRequest, match="no chosen target supports precision w8"):
        plan("onnx", "fp32,w8")
    with pytest.raises(BadRequest, match="unknown target 'tensorrt'"):
        plan("onnx,tensorrt", "all")


def test_benchmark_onnx_and_coreml(tmp_path: Path, capsys) -> None:
    pytest.importorskip("coremltools")
    out = tmp_path / "bench"
    args = ["benchmark", "--targets", "onnx,coreml", "--precisions", "fp32", "--out", str(out), "--runs", "3", "--warmup", "1", "--threads", "1"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("target"))
    assert lines[header].split("  ")[0] == "target" and [c for c in lines[header].split("  ") if c.strip()] == [
        "target", "precision", "status", "size MB", "accuracy", "PSNR dB", "top-1 agree", "p50 ms", "FPS", "note"
    ]
    onnx_row, coreml_row = lines[header + 1], lines[header + 2]
    assert onnx_row.split()[:3] == ["onnx", "fp32", "verified"] and coreml_row.split()[:3] == ["coreml", "fp32", "verified"]
    assert coreml_row.rstrip().endswith(CORE_ML_NOT_PROFILED)
    with open(out / "benchmark.csv") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == CSV_HEADER and [r[:3] for r in rows[1:]] == [["onnx", "fp32", "verified"], ["coreml", "fp32", "verified"]]
    onnx = dict(zip(CSV_HEADER, rows[1]))
    assert float(onnx["p50_ms"]) > 0 and float(onnx["fps"]) > 0 and float(onnx["accuracy"]) > 0.9 and float(onnx["size_mb"]) > 0
    assert dict(zip(CSV_HEADER, rows[2]))["p50_ms"] == ""
    report = json.loads((out / "benchmark.json").read_text())
    assert report["schema"] == "mvedge.benchmark/1" and report["source"] == "embedded"
    assert report["rows"][0]["profile"]["schema"] == "mvedge.profile/1" and len(report["rows"][0]["profile"]["samples_ms"]) == 3
    assert (out / "benchmark.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in out.rglob(".mvedge-*")]  # no temporary files left
    assert main(args) == 2  # existing output without --force
    assert "already exists; pass --force" in capsys.readouterr().err


def test_a_failed_conversion_is_a_row_and_exit_1(tmp_path: Path, monkeypatch, capsys) -> None:
    import converters.pipeline
    from converters.pipeline import VerificationFailed

    def refuse(bundle, target, precision, *args, **kwargs):
        raise VerificationFailed(f"{target} {precision} artifact drifts past its threshold (PSNR 12.0 dB < 60 dB); nothing was written")

    monkeypatch.setattr(converters.pipeline, "convert", refuse)
    assert main(["benchmark", "--targets", "onnx", "--out", str(tmp_path / "b"), "--no-verify"]) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("onnx"))
    assert row.split()[:3] == ["onnx", "fp32", "failed"] and "drifts past its threshold" in row
    assert (tmp_path / "b" / "benchmark.csv").is_file()


def test_reports_without_matplotlib(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    bundle = argparse.Namespace(name="mambavision-digits", source="embedded", image_size=128)
    args = argparse.Namespace(threads=1, warmup=1, runs=3)
    rows = [BenchmarkRow("onnx", "fp32", "verified", size_mb=2.8, accuracy=0.99, psnr_db=140.0, top1_agreement=1.0, p50_ms=1.2, fps=833.3)]
    from mvedge.progress import Progress

    _write_reports(tmp_path, rows, bundle, args, Progress())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["benchmark.csv", "benchmark.json"]
    assert 'no chart: the chart needs matplotlib: pip install "mvedge[profile]"' in capsys.readouterr().err
    assert TABLE_HEADER[-1] == "note"
