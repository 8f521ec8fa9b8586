"""`mvedge convert --labels FILE`: the file names the classes in the sidecar (and so in the apps);
a bad file is one line and exit code 2 before any conversion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import converters.pipeline
from mvedge.cli import main


def test_convert_labels_file_names_the_classes_in_the_sidecar(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    names = [f"digit {word}" for word in "zero one two three four five six seven eight nine".split()]
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(names) + "\n")
    out = tmp_path / "out"
    assert main(["convert", "--target", "onnx", "--labels", str(labels), "--out", str(out), "--no-verify"]) == 0
    (sidecar,) = out.glob("*.onnx.json")
    assert json.loads(sidecar.read_text())["labels"] == names


def test_convert_refuses_a_labels_file_of_the_wrong_length_before_converting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(converters.pipeline, "convert", lambda *a, **k: pytest.fail("converted despite a bad --labels file"))
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\nc\n")
    assert main(["convert", "--target", "onnx", "--labels", str(labels), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("mvedge: error: --labels") and "3 names but the model has 10 classes" in err[-1]
