"""`mvedge benchmark`: convert's flags and loop (old spellings kept), int8 options and QAT handling
reaching each conversion, the table's columns, CSV/JSON/PNG written atomically, failures as rows,
and a missing matplotlib costing only the chart."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import pytest

import converters.pipeline
from converters.base import ConversionError, Converter
from converters.registry import TARGETS, get_converter
from mvedge.cli import main, make_parser
from mvedge.commands import benchmark
from mvedge.commands.benchmark import _profile_row, _write_reports
from mvedge.profile.matrix import APPLE_DELEGATE_NOT_PROFILED, CORE_ML_NOT_PROFILED, CSV_HEADER, TABLE_HEADER, BenchmarkRow
from mvedge.progress import Progress
from tests.model.test_bundle import save_digits_qat_checkpoint


def _parse(*argv: str) -> argparse.Namespace:
    return make_parser().parse_args(["benchmark", *argv])


def test_benchmark_takes_converts_flags_and_the_old_spellings() -> None:
    defaults = _parse()
    assert (defaults.target, defaults.precision, defaults.out) == ("all", "all", "mvedge-benchmark")
    assert (defaults.observer, defaults.exclude, defaults.calibration_limit, defaults.nhwc) == (None, None, 64, False)
    new = _parse("--target", "onnx,tflite", "--precision", "fp32")
    old = _parse("--targets", "onnx,tflite", "--precisions", "fp32")
    assert (new.target, new.precision) == (old.target, old.precision) == ("onnx,tflite", "fp32")
    sub = next(a for a in make_parser()._actions if isinstance(a, argparse._SubParsersAction))
    text = sub.choices["benchmark"].format_help()
    assert "--target " in text and "--precision " in text and "--targets" not in text and "--precisions" not in text


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, dict]]:
    """(target, precision, options.extra) of every call of converters.pipeline.convert; each
    conversion fails, so nothing is profiled."""
    calls: list[tuple[str, str, dict]] = []

    def record(bundle, target, precision, out_dir, options, *args, **kwargs):
        calls.append((target, precision, dict(options.extra)))
        raise ConversionError(f"{target} {precision}: recorded, not converted")

    monkeypatch.setattr(converters.pipeline, "convert", record)
    monkeypatch.setattr(Converter, "check_available", lambda self: None)  # toolchains are not the point
    return calls


def test_observer_and_exclude_reach_the_int8_conversion(recorded, tmp_path: Path, capsys) -> None:
    argv = ["benchmark", "--target", "executorch,onnx", "--precision", "int8,fp32", "--observer", "histogram",
            "--exclude", "levels.3.blocks.0", "--calibration-limit", "4", "--no-verify", "--out", str(tmp_path)]
    assert main(argv) == 1
    assert recorded == [
        ("executorch", "fp32", {}),
        ("executorch", "int8", {"observer": "histogram", "exclude": "levels.3.blocks.0"}),
        ("onnx", "fp32", {}),
    ]
    rows = [line.split()[:3] for line in capsys.readouterr().out.splitlines()[1:]]
    assert rows == [["executorch", "fp32", "failed"], ["executorch", "int8", "failed"], ["onnx", "fp32", "failed"]]


@pytest.mark.parametrize("command", ["convert", "benchmark"])
def test_a_qat_checkpoint_gets_the_observer_it_was_tuned_with(command: str, recorded, tmp_path: Path) -> None:
    checkpoint = save_digits_qat_checkpoint(tmp_path / "digits-qat.safetensors", target="executorch")  # observer minmax
    common = [command, "--precision", "int8", "--weights", str(checkpoint), "--no-verify"]
    assert main([*common, "--target", "executorch", "--out", str(tmp_path / "a")]) == 1
    assert recorded[-1] == ("executorch", "int8", {"observer": "minmax"})
    assert main([*common, "--target", "executorch", "--observer", "histogram", "--out", str(tmp_path / "b")]) == 1
    assert recorded[-1] == ("executorch", "int8", {"observer": "histogram"})  # the command line wins
    assert main([*common, "--target", "tflite", "--out", str(tmp_path / "c")]) == 1
    assert recorded[-1] == ("tflite", "int8", {})  # tuned for another target: that target's own recipe
    assert len(recorded) == 3


def test_a_failed_conversion_is_a_row_and_exit_1(tmp_path: Path, monkeypatch, capsys) -> None:
    from converters.pipeline import VerificationFailed

    def refuse(bundle, target, precision, *args, **kwargs):
        raise VerificationFailed(f"{target} {precision} artifact drifts past its threshold (PSNR 12.0 dB < 60 dB); nothing was written")

    monkeypatch.setattr(converters.pipeline, "convert", refuse)
    monkeypatch.setattr(Converter, "check_available", lambda self: None)
    assert main(["benchmark", "--targets", "onnx", "--out", str(tmp_path / "b"), "--no-verify"]) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("onnx"))
    assert row.split()[:3] == ["onnx", "fp32", "failed"] and "drifts past its threshold" in row
    assert (tmp_path / "b" / "benchmark.csv").is_file()


def test_apple_only_artifacts_are_not_profiled_here(monkeypatch) -> None:
    def profile_host(*args, **kwargs):
        raise AssertionError("profiled an Apple-only artifact")

    monkeypatch.setattr(benchmark, "profile_host", profile_host)
    args = argparse.Namespace(threads=1, warmup=0, runs=1, breakdown=False, timeout=1)
    coreml = BenchmarkRow("coreml", "fp16", "verified")
    delegate = BenchmarkRow("executorch", "coreml-fp16", "converted")
    for row in (coreml, delegate):
        _profile_row(row, Path("model"), args, Progress(quiet=True))
    assert coreml.note == CORE_ML_NOT_PROFILED and delegate.note == APPLE_DELEGATE_NOT_PROFILED and coreml.p50_ms is None


def test_benchmark_onnx_end_to_end(tmp_path: Path, capsys) -> None:
    """One real run: the embedded model to ONNX fp32, verified, profiled, reported."""
    pytest.importorskip("onnxruntime")
    out = tmp_path / "bench"
    args = ["benchmark", "--target", "onnx", "--precision", "fp32", "--out", str(out), "--runs", "3", "--warmup", "1", "--threads", "1"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("target"))
    assert [c.strip() for c in lines[header].split("  ") if c.strip()] == TABLE_HEADER
    assert lines[header + 1].split()[:3] == ["onnx", "fp32", "verified"] and len(lines) == header + 2
    with open(out / "benchmark.csv") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == CSV_HEADER and [r[:3] for r in rows[1:]] == [["onnx", "fp32", "verified"]]
    onnx = dict(zip(CSV_HEADER, rows[1]))
    assert float(onnx["p50_ms"]) > 0 and float(onnx["fps"]) > 0 and float(onnx["accuracy"]) > 0.9 and float(onnx["size_mb"]) > 0
    assert Path(onnx["artifact"]) == out / "artifacts" / "mambavision-digits-128-onnx-fp32.onnx"
    report = json.loads((out / "benchmark.json").read_text())
    assert report["schema"] == "mvedge.benchmark/1" and report["source"] == "embedded"
    assert report["rows"][0]["profile"]["schema"] == "mvedge.profile/1" and len(report["rows"][0]["profile"]["samples_ms"]) == 3
    assert (out / "benchmark.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in out.rglob(".mvedge-*")]  # no temporary files left
    stamp = (out / "benchmark.json").stat().st_mtime_ns
    assert main(args) == 2  # existing output without --force, refused before any work
    assert "already exists; pass --force" in capsys.readouterr().err
    assert (out / "benchmark.json").stat().st_mtime_ns == stamp


def test_existing_reports_are_refused_before_any_work(recorded, tmp_path: Path, capsys) -> None:
    (tmp_path / "benchmark.json").write_text("{}")
    assert main(["benchmark", "--target", "onnx", "--no-verify", "--out", str(tmp_path)]) == 2
    assert f"{tmp_path / 'benchmark.json'} already exists; pass --force" in capsys.readouterr().err
    assert recorded == []


def test_reports_without_matplotlib(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    bundle = argparse.Namespace(name="mambavision-digits", source="embedded", image_size=128, size_label="128")
    args = argparse.Namespace(threads=1, warmup=1, runs=3)
    rows = [BenchmarkRow("onnx", "fp32", "verified", size_mb=2.8, accuracy=0.99, psnr_db=140.0, top1_agreement=1.0, p50_ms=1.2, fps=833.3)]
    _write_reports(tmp_path, rows, bundle, args, Progress())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["benchmark.csv", "benchmark.json"]
    assert 'no chart: the chart needs matplotlib: pip install "mvedge[profile]"' in capsys.readouterr().err
    assert TABLE_HEADER[-1] == "note"


def test_the_default_plan_is_every_target_and_precision() -> None:
    from mvedge.commands.conversion import plan

    args = _parse()
    assert plan(args.target, args.precision) == [(t, p) for t in TARGETS for p in get_converter(t).precisions]
