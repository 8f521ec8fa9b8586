"""`mvedge quant-report`: bad quantization options give one `mvedge: error:` line and exit 2; a run
ranks every block by the drift quantizing it alone causes and suggests the worst to exclude."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mvedge.cli import main
from tests.commands.cli import error_line


def test_quant_report_refuses_bad_quantization_options(capsys) -> None:
    assert "target onnx has no int8 recipe" in error_line(capsys, ["quant-report", "--target", "onnx"])
    assert "--all-integer applies to --target tflite only" in error_line(capsys, ["quant-report", "--target", "coreml", "--all-integer"])


def test_quant_report_ranks_every_block(capsys, tmp_path: Path, tiny_checkpoint: Path) -> None:
    pytest.importorskip("executorch")
    report = tmp_path / "report.json"
    assert main(["quant-report", "--target", "executorch", "--weights", str(tiny_checkpoint), "--limit", "8", "--calibration-limit", "8",
                 "--observer", "minmax", "--json", str(report)]) == 0
    printed = capsys.readouterr().out
    data = json.loads(report.read_text())
    ranked = data["ranked"]
    assert [u["unit"] for u in ranked].count("patch_embed") == 1 and len(ranked) == 11
    assert [u["psnr_db"] for u in ranked] == sorted(u["psnr_db"] for u in ranked)  # worst first
    assert all(u["psnr_db"] > data["all_quantized"]["psnr_db"] for u in ranked)  # one block drifts less than all of them
    assert data["suggested_exclusions"] == [ranked[0]["unit"], ranked[1]["unit"]]
    assert f"--exclude {ranked[0]['unit']},{ranked[1]['unit']}" in printed
