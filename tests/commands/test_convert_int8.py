"""`mvedge convert`'s quantization options: bad ones give one `mvedge: error:` line and exit 2 with
nothing written; a QAT checkpoint goes through `convert --precision int8` with the recipe options it
recorded; int8-only options reach the int8 artifact only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mvedge.cli import main
from tests.commands.cli import error_line


def test_convert_refuses_bad_quantization_options(capsys, tmp_path: Path) -> None:
    assert "--observer is not used by this run (onnx fp32); it applies to coreml int8, tflite int8" in error_line(capsys, ["convert", "--target", "onnx", "--observer", "minmax", "--out", str(tmp_path)])
    assert "does not support precision 'int8'" in error_line(capsys, ["convert", "--target", "onnx", "--precision", "int8", "--out", str(tmp_path)])
    for argv in (["--target", "executorch", "--precision", "int8"], ["--target", "tflite", "--precision", "fp16"]):
        assert "--all-integer is not used by this run" in error_line(capsys, ["convert", *argv, "--all-integer", "--out", str(tmp_path)])
    pytest.importorskip("executorch")
    message = error_line(capsys, ["convert", "--target", "executorch", "--precision", "int8", "--exclude", "levels.9.blocks.0", "--calibration-limit", "4", "--no-verify", "--out", str(tmp_path)])
    assert "names no block of this model" in message and "levels.3.blocks.1" in message
    assert not any(tmp_path.iterdir())  # nothing written


def test_a_qat_checkpoint_converts_with_the_recipe_it_was_tuned_for(capsys, tmp_path: Path, tiny_checkpoint: Path, digits_folder: Path) -> None:
    """LiteRT: convert applies what QAT recorded (its exclusion and the min/max observer) with the
    recipe's float region (scan, norms, softmax; QAT kept those float too; and GELU and the attention matmuls)."""
    pytest.importorskip("litert_torch")
    pytest.importorskip("torchao")
    from mvedge.model.checkpoints import load_checkpoint
    from mvedge.quant.checkpoint import read_qat_info

    checkpoint = tmp_path / "tiny-qat.safetensors"
    assert main(["qat", "--target", "tflite", "--weights", str(tiny_checkpoint), "--data", str(digits_folder), "--labels", "--limit", "16",
                 "--epochs", "1", "--batch-size", "8", "--lr", "1e-4", "--exclude", "levels.3.blocks.1", "--out", str(checkpoint)]) == 0
    info = read_qat_info(checkpoint)
    assert info["target"] == "tflite" and info["convert_options"] == {} and info["steps"] == 2
    assert info["exclude"] == ["levels.3.blocks.1"] and info["observer"] == "minmax"
    assert load_checkpoint(checkpoint).config["image_size"] == 64  # loads like any checkpoint
    code = main(["convert", "--target", "tflite", "--precision", "int8", "--weights", str(checkpoint), "--calibration", str(digits_folder),
                 "--calibration-limit", "8", "--images", str(digits_folder), "--out", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    sidecars = list((tmp_path / "out").glob("*.tflite.json"))
    assert len(sidecars) == 1 and "qat-tflite" in sidecars[0].name
    sidecar = json.loads(sidecars[0].read_text())
    conversion = sidecar["conversion"]
    assert conversion["excluded"] == ["levels.3.blocks.1"] and conversion["observer"] == "minmax"
    assert conversion["float_parts"] == ["scan", "norms", "softmax", "gelu", "matmuls"] and not conversion["all_integer"]
    assert sidecar["verification"] == "verified"


def test_int8_only_options_reach_int8_only() -> None:
    """`--precision all --all-integer` (or --observer / --exclude): the int8 artifact gets them, the
    other precisions of the same run are built without them instead of failing."""
    from mvedge.commands.conversion import int8_options

    given = {"all_integer": True, "observer": "histogram", "exclude": "levels.3.blocks.0", "nhwc": True}
    assert int8_options(given, "tflite", "int8", None) == given
    assert int8_options(given, "tflite", "fp16", None) == {"nhwc": True}
    qat = {"target": "tflite", "observer": "minmax", "exclude": ["head"], "convert_options": {}}
    assert int8_options({}, "tflite", "int8", qat) == {"observer": "minmax", "exclude": "head"}
