"""`mvedge verify`: refusals before any work (the whole command runs in test_convert and test_model_resolution)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from mvedge.cli import main
from tests.commands.cli import error_line


def test_verify_bad_input(tmp_path: Path, capsys) -> None:
    assert main(["verify", str(tmp_path / "missing.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err
    lone = tmp_path / "lone.onnx"
    lone.write_bytes(b"x")
    assert main(["verify", str(lone)]) == 2
    assert "has no sidecar" in capsys.readouterr().err


def _tampered_copy(artifact: Path, folder: Path) -> Path:
    """A copy of an ONNX artifact whose head weights are scaled by 1.001, next to the original sidecar."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    from mvedge.artifact import sidecar_path

    model = onnx.load(str(artifact))
    heads = [t for t in model.graph.initializer if "head" in t.name and "weight" in t.name]
    assert heads, [t.name for t in model.graph.initializer][-5:]
    for tensor in heads:
        tensor.CopyFrom(numpy_helper.from_array((numpy_helper.to_array(tensor) * np.float32(1.001)).astype(np.float32), tensor.name))
    copy = folder / artifact.name
    onnx.save(model, str(copy))
    shutil.copy(sidecar_path(artifact), sidecar_path(copy))
    return copy


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="needs the onnx extra")
def test_verify_refuses_an_artifact_whose_hash_differs_from_its_sidecar(converted, tmp_path: Path, capsys) -> None:
    from mvedge.artifact import read_sidecar, sha256_of

    original = converted("digits", "onnx", "fp32")
    tampered = _tampered_copy(original, tmp_path)
    recorded, actual = read_sidecar(tampered).sha256, sha256_of(tampered)
    assert recorded != actual
    line = error_line(capsys, ["verify", str(tampered)])
    assert recorded[:12] in line and actual[:12] in line and "--ignore-sha" in line
    # --ignore-sha: a note, then the check runs (and still passes: 1.001 is within fp32's drift)
    report = tmp_path / "report.json"
    code = main(["verify", str(tampered), "--ignore-sha", "--limit", "8", "--json", str(report)])
    captured = capsys.readouterr()
    assert code in (0, 1) and "result" in captured.out
    assert "sha256" in captured.err and "--ignore-sha" in captured.err
    payload = json.loads(report.read_text())
    assert payload["sha256"] == actual and payload["target"] == "onnx" and payload["precision"] == "fp32"
    assert payload["runtime"] == "onnxruntime (CPU)" and payload["passed"] is (code == 0)
    assert payload["thresholds"] == {"min_psnr_db": 60.0, "min_cosine": 0.99999, "min_top1_agreement": 0.99}
    assert "drift" in payload and "failures" in payload


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="needs the onnx extra")
def test_verify_report_of_an_untouched_artifact(converted, tmp_path: Path, capsys) -> None:
    from mvedge.artifact import sha256_of

    artifact = converted("digits", "onnx", "fp32")
    assert main(["verify", str(artifact), "--limit", "8", "--json", "-"]) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)  # only the JSON on stdout
    assert payload["sha256"] == sha256_of(artifact) and payload["passed"] is True
    assert "result" in captured.err


def test_verify_on_arm64_reports_the_emulated_run(arm64_userland, converted, capsys) -> None:
    artifact = converted("digits", "tflite", "int8")
    assert main(["verify", str(artifact), "--arch", "arm64", "--limit", "4", "--json", "-"]) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert payload["arch"] == "arm64" and payload["passed"] is True and payload["images"] == "4 held-out digits"
    assert payload["runtime"] == "ai-edge-litert 1.4.0, XNNPACK delegate, on emulated ARM64"
    emulation = payload["emulation"]
    assert emulation["cpu"] == "qemu -cpu max" and "asimddp" in emulation["cpu_features"]
    assert "emulation time" in captured.err and "not a phone's latency" in captured.err


def test_verify_arm64_refusals(converted, tmp_path: Path, capsys) -> None:
    artifact = converted("digits", "onnx", "fp32")
    line = error_line(capsys, ["verify", str(artifact), "--arch", "arm64", "--localize"])
    assert "--localize runs on the host only" in line
    with pytest.raises(SystemExit) as exit_:
        main(["verify", str(artifact), "--arch", "riscv"])
    assert exit_.value.code == 2 and "invalid choice: 'riscv'" in capsys.readouterr().err
