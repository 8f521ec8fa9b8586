"""The plan and conversion loop `mvedge convert` and `mvedge benchmark` share: which (target,
precision) pairs a request means, what is refused before any work, and what each pair's conversion
is given. converters.pipeline.convert is replaced by a recorder where the conversion is not the point."""

from __future__ import annotations

from pathlib import Path

import pytest

import converters.pipeline
from converters.base import ConversionError, Converter, MissingExtra
from converters.registry import TARGETS, get_converter
from mvedge.cli import main
from mvedge.commands.conversion import DEFAULT_PRECISION, plan
from mvedge.errors import BadInput


def precisions(target: str) -> list[str]:
    return list(get_converter(target).precisions)


def test_convert_plan_for_one_target_or_all_is_unchanged() -> None:
    assert plan("onnx", None) == [("onnx", "fp32")]
    assert plan("coreml", None) == [("coreml", "fp16")]
    assert plan("all", None) == [(t, DEFAULT_PRECISION[t]) for t in TARGETS]
    assert plan("tflite", "int8") == [("tflite", "int8")]
    assert plan("tflite", "all") == [("tflite", p) for p in precisions("tflite")]
    int8 = plan("all", "int8")  # the targets that have int8
    assert int8 == [(t, "int8") for t in TARGETS if "int8" in precisions(t)]
    assert {("tflite", "int8"), ("executorch", "int8")} <= set(int8) and ("onnx", "int8") not in int8
    with pytest.raises(BadInput, match=r"^target onnx does not support precision 'int8'; choose one of fp32$"):
        plan("onnx", "int8")
    with pytest.raises(BadInput, match="no target supports precision 'int4'"):
        plan("all", "int4")


def test_plan_takes_comma_lists_and_all() -> None:
    assert plan("all", "all") == [(t, p) for t in TARGETS for p in precisions(t)]  # benchmark's default
    assert plan("onnx,tflite", "fp32") == [("onnx", "fp32"), ("tflite", "fp32")]
    assert plan("onnx, tflite,onnx", None) == [("onnx", "fp32"), ("tflite", "fp32")]
    assert plan("tflite", "int8,fp32") == [("tflite", "fp32"), ("tflite", "int8")]  # each target's own order
    assert plan("onnx,tflite", "int8") == [("tflite", "int8")]  # a listed precision goes where it exists
    with pytest.raises(BadInput, match="target onnx does not support precision 'w8'"):
        plan("onnx", "fp32,w8")
    with pytest.raises(BadInput, match=r"no chosen target \(onnx, tflite\) supports precision 'w8', 'int4'"):
        plan("onnx,tflite", "w8,fp32,int4")
    for bad in ("onnx,tensorrt", "", ","):
        with pytest.raises(BadInput, match="unknown target"):
            plan(bad, "all")


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[str, str, dict, int | None]]:
    """Every call of converters.pipeline.convert as (target, precision, options.extra, number of
    calibration images); each call fails (a failed row) unless the test says otherwise."""
    calls: list[tuple[str, str, dict, int | None]] = []

    def record(bundle, target, precision, out_dir, options, *args, **kwargs):
        calibration = None if options.calibration is None else len(options.calibration)
        calls.append((target, precision, dict(options.extra), calibration))
        raise ConversionError(f"{target} {precision}: recorded, not converted")

    monkeypatch.setattr(converters.pipeline, "convert", record)
    monkeypatch.setattr(Converter, "check_available", lambda self: None)  # toolchains are not the point
    return calls


def test_convert_takes_comma_lists_and_reports_each_pair(recorded, tmp_path: Path, capsys) -> None:
    assert main(["convert", "--target", "onnx,tflite", "--precision", "fp32", "--no-verify", "--out", str(tmp_path)]) == 1
    assert [(t, p) for t, p, _, _ in recorded] == [("onnx", "fp32"), ("tflite", "fp32")]
    rows = [line.split()[:3] for line in capsys.readouterr().out.splitlines()[1:]]
    assert rows == [["onnx", "fp32", "failed"], ["tflite", "fp32", "failed"]]


def test_a_lone_named_pair_that_fails_is_an_error(recorded, tmp_path: Path, capsys) -> None:
    assert main(["convert", "--target", "onnx", "--no-verify", "--out", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "mvedge: error: onnx fp32: recorded, not converted" in captured.err


def test_a_missing_toolchain_is_skipped_under_all(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    def missing(bundle, target, precision, *args, **kwargs):
        raise MissingExtra(f'the {target} toolchain is not installed; install it with: pip install "mvedge[{target}]"')

    monkeypatch.setattr(converters.pipeline, "convert", missing)
    assert main(["convert", "--target", "all", "--precision", "fp32", "--no-verify", "--out", str(tmp_path)]) == 1
    rows = [line.split()[:3] for line in capsys.readouterr().out.splitlines()[1:]]
    assert rows == [[t, "fp32", "skipped"] for t in TARGETS if "fp32" in precisions(t)]


def test_int8_options_reach_the_int8_conversion_only(recorded, tmp_path: Path) -> None:
    argv = ["convert", "--target", "tflite", "--precision", "fp32,int8", "--observer", "histogram", "--exclude", "levels.3.blocks.0",
            "--all-integer", "--nhwc", "--calibration-limit", "4", "--no-verify", "--out", str(tmp_path)]
    assert main(argv) == 1
    assert [(t, p, extra) for t, p, extra, _ in recorded] == [
        ("tflite", "fp32", {"nhwc": True}),
        ("tflite", "int8", {"nhwc": True, "all_integer": True, "observer": "histogram", "exclude": "levels.3.blocks.0"}),
    ]
    assert recorded[1][3] == 4  # --calibration-limit


@pytest.mark.parametrize("command", ["convert", "benchmark"])
def test_bad_requests_are_refused_before_any_work(command: str, recorded, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    cases = [
        (["--target", "onnx", "--observer", "minmax"], "--observer is not used by this run (onnx fp32); it applies to coreml int8, tflite int8, executorch int8"),
        (["--target", "onnx,tflite", "--precision", "fp32", "--exclude", "head"], "--exclude is not used by this run (onnx fp32, tflite fp32)"),
        (["--target", "executorch", "--precision", "int8", "--all-integer"], "--all-integer is not used by this run (executorch int8); it applies to tflite int8"),
        (["--target", "onnx", "--precision", "int4"], "target onnx does not support precision 'int4'"),
        (["--target", "onnx,tensorrt"], "unknown target 'tensorrt'"),
    ]
    for argv, message in cases:
        assert main([command, *argv, "--out", str(out)]) == 2
        errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("mvedge: error:")]
        assert len(errors) == 1 and message in errors[0], (argv, errors)
    assert recorded == [] and not out.exists()


def test_a_named_target_without_its_toolchain_is_refused_before_any_work(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    from converters.tflite import TFLiteConverter

    monkeypatch.setattr(TFLiteConverter, "modules", ("mvedge_no_such_module",))
    assert main(["convert", "--target", "tflite,onnx", "--precision", "fp32", "--out", str(tmp_path / "out")]) == 2
    assert 'pip install "mvedge[tflite]"' in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# --- the whole command on the embedded default model (ONNX: the lightest target) ----------------

onnx_only = pytest.mark.skipif(__import__("importlib").util.find_spec("onnxruntime") is None, reason="needs the onnx extra")


@onnx_only
def test_convert_default_model_writes_verified_artifact_and_table(tmp_path: Path, capsys) -> None:
    assert main(["convert", "--target", "onnx", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "onnx    fp32       verified" in out and "mambavision-digits-128-onnx-fp32.onnx" in out
    artifact = tmp_path / "mambavision-digits-128-onnx-fp32.onnx"
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


def test_convert_verifies_on_arm64(arm64_userland, tiny_checkpoint: Path, tmp_path: Path, capsys) -> None:
    import json

    out = tmp_path / "out"
    argv = ["convert", "--target", "onnx", "--weights", str(tiny_checkpoint), "--limit", "4", "--verify-arch", "arm64", "--out", str(out), "--json", "-"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    row = json.loads(captured.out)["artifacts"][0]
    assert row["status"] == "verified", row
    sidecar = json.loads(next(out.glob("*.onnx.json")).read_text())
    assert sidecar["verification"] == "verified on emulated ARM64 (qemu -cpu max)"
    assert "verifying on 4 " in captured.err and "on emulated ARM64" in captured.err


@pytest.mark.parametrize(("argv", "message"), [
    (["--target", "onnx", "--no-verify", "--verify-arch", "arm64"], "--no-verify skips it: drop one"),
    (["--target", "coreml", "--verify-arch", "arm64"], "checks tflite, onnx, executorch artifacts; this run converts only coreml"),
])
def test_convert_verify_arch_refusals(argv: list[str], message: str, tmp_path: Path, capsys) -> None:
    assert main(["convert", *argv, "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_verify_arch_notes_the_targets_it_does_not_run() -> None:
    from mvedge.commands.conversion import arm64_notes

    assert arm64_notes([("tflite", "fp32"), ("onnx", "fp32")]) == []
    assert arm64_notes([("onnx", "fp32"), ("executorch", "fp32")]) == []  # ExecuTorch runs on ARM64 too
    note = arm64_notes([("onnx", "fp32"), ("executorch", "fp32"), ("coreml", "fp16")])[0]
    assert "coreml is checked on the host's MIL interpreter" in note and "executorch" not in note.split(";")[1]
