"""`mvedge info`: the sidecar's main fields, and the artifact's hash checked against it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from mvedge.artifact import read_sidecar, sha256_of, sidecar_path
from mvedge.cli import main
from tests.commands.cli import error_line


def test_info_prints_the_sidecar_and_checks_the_hash(converted, tmp_path: Path, capsys) -> None:
    artifact = converted("digits", "tflite", "fp32")
    sidecar = read_sidecar(artifact)
    assert main(["info", str(artifact)]) == 0
    text = capsys.readouterr().out
    lines = dict(line.split("  ", 1) for line in text.splitlines())
    assert lines["model"].strip().startswith(sidecar.model) and "tflite / fp32" in lines["target / precision"]
    assert str(sidecar.input.shape) in lines["input"] and "NCHW" in lines["input"] or "NHWC" in lines["input"]
    assert str(sidecar.output.shape) in lines["output"]
    assert "input_size 64" in lines["preprocessing"] or f"input_size {sidecar.preprocessing['input_size']}" in lines["preprocessing"]
    assert f"{len(sidecar.labels)} class names" in lines["labels"] and "torch" in lines["toolchain"]
    assert lines["sha256"].strip() == sidecar.sha256
    # --json -: only the JSON on stdout
    assert main(["info", str(artifact), "--json", "-"]) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert payload["sha256_matches"] is True and payload["sidecar"]["target"] == "tflite" and "model" in captured.err


def test_info_refuses_an_artifact_changed_after_conversion(converted, tmp_path: Path, capsys) -> None:
    original = converted("digits", "tflite", "fp32")
    changed = tmp_path / original.name
    changed.write_bytes(original.read_bytes() + b"\0")
    shutil.copy(sidecar_path(original), sidecar_path(changed))
    line = error_line(capsys, ["info", str(changed)])
    assert sha256_of(changed)[:12] in line and read_sidecar(changed).sha256[:12] in line and "--ignore-sha" in line
    assert main(["info", str(changed), "--ignore-sha"]) == 0
    captured = capsys.readouterr()
    assert "--ignore-sha" in captured.err and "not the sidecar's" in captured.out
