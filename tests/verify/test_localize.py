"""Block-by-block drift localisation in onnxruntime, LiteRT and the MIL interpreter."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from mvedge.cli import main
from mvedge.model.blocks import block_paths
from mvedge.verify.localize import LocalizationUnavailable, align, format_localization, litert_scope, localize

CASES = [("onnx", "fp32", "onnxruntime"), ("tflite", "fp32", "ai_edge_litert"), ("coreml", "fp16", "coremltools")]


def _perturbed(bundle, block: str):
    """A copy of `bundle` whose float model differs from the artifact in one block only."""
    other = copy.deepcopy(bundle)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, param in other.model.named_parameters():
            if name.startswith(block + ".") and param.ndim > 1:
                param.mul_(1 + 0.3 * torch.randn_like(param))  # a badly converted block
    return other


@pytest.mark.parametrize("target,precision,module", CASES)
def test_a_faithful_artifact_agrees_block_by_block(target, precision, module, digits, digit_images, digit_artifacts) -> None:
    pytest.importorskip(module)
    images = digit_images[0][:4]
    report = localize(digit_artifacts(target, precision), digits, images, precision)
    assert [row.block for row in report.rows] == block_paths(digits.model)
    assert all(row.passed for row in report.rows), format_localization(report)
    assert report.first_failing is None


@pytest.mark.parametrize("target,precision,module", CASES)
def test_the_first_differing_block_is_named(target, precision, module, digits, digit_images, digit_artifacts) -> None:
    pytest.importorskip(module)
    block = "levels.2.blocks.1"
    report = localize(digit_artifacts(target, precision), _perturbed(digits, block), digit_images[0][:4], "fp32")
    assert report.first_failing == block, format_localization(report)
    before = report.rows[: block_paths(digits.model).index(block)]
    assert before and all(row.passed for row in before)


def test_executorch_cannot_localize(digits, digit_images, tmp_path) -> None:
    pte = tmp_path / "model.pte"
    pte.write_bytes(b"not read")
    with pytest.raises(LocalizationUnavailable, match="onnx or tflite"):
        localize(pte, digits, digit_images[0][:1], "fp32")


def test_verify_localize_from_the_command_line(digit_artifacts, tmp_path, capsys) -> None:
    pytest.importorskip("onnxruntime")
    report = tmp_path / "report.json"
    assert main(["verify", str(digit_artifacts("onnx", "fp32")), "--limit", "4", "--localize", "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "levels.3.blocks.1" in out and "no block crosses the threshold" in out
    saved = json.loads(report.read_text())["localization"]
    assert saved["first_failing"] is None and len(saved["blocks"]) == 10


def test_verify_localize_refuses_a_pte_in_one_line(tmp_path, capsys) -> None:
    pte = tmp_path / "model.pte"
    pte.write_bytes(b"x")
    assert main(["verify", str(pte), "--localize"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--localize is not available for .pte" in err


def test_align_lines_up_layouts() -> None:
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    assert np.array_equal(align(x, x.shape), x)
    assert np.array_equal(align(x.transpose(0, 2, 3, 1), x.shape), x)
    assert np.array_equal(align(x.reshape(2, 60), x.shape), x)
    assert align(x.reshape(6, 20), x.shape) is None  # another batch grouping: not comparable


def test_litert_scope_follows_litert_torch_naming(digits) -> None:
    scope = litert_scope(digits.model, "levels.2.blocks.0")
    assert scope == ("mvedge.model.mambavision.MambaVision/mvedge.model.mambavision.MambaVisionLayer_2/"
                     "mvedge.model.mambavision.Block_0")
    assert litert_scope(digits.model, "patch_embed").endswith("/mvedge.model.mambavision.PatchEmbed_patch_embed")


def test_verify_runs_litert_with_and_without_xnnpack(digit_artifacts, capsys) -> None:
    pytest.importorskip("ai_edge_litert")
    tflite = str(digit_artifacts("tflite", "fp32"))
    assert main(["verify", tflite, "--limit", "4", "--threads", "1"]) == 0
    assert "XNNPACK delegate" in capsys.readouterr().out
    assert main(["verify", tflite, "--limit", "4", "--no-xnnpack"]) == 0
    assert "builtin kernels" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["--no-xnnpack"], "applies to .tflite artifacts only"),
    (["--threads", "0"], "--threads must be a positive integer"),
])
def test_verify_runtime_options_are_checked(args, message, digit_artifacts, capsys) -> None:
    pytest.importorskip("onnxruntime")
    assert main(["verify", str(digit_artifacts("onnx", "fp32")), *args]) == 2
    assert message in capsys.readouterr().err
