"""ONNX converter: opset, dynamic batch, numerics in onnxruntime, through the pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from converters.pipeline import convert  # noqa: E402
from mvedge.artifact import sha256_of  # noqa: E402
from mvedge.verify.runners import open_runner  # noqa: E402


def test_onnx_fp32_converts_verifies_and_has_dynamic_batch(small_bundle, tmp_path: Path) -> None:
    artifact = convert(small_bundle, "onnx", "fp32", tmp_path)
    name = f"mambavision-custom-{sha256_of(small_bundle.source)[:8]}-64-onnx-fp32.onnx"  # the checkpoint's hash: whose weights
    assert artifact.path == tmp_path / name
    assert artifact.drift is not None and artifact.drift.psnr_db > 100 and artifact.drift.top1_agreement == 1.0
    model = onnx.load(str(artifact.path))
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # symbolic batch
    sidecar = json.loads((tmp_path / f"{name}.json").read_text())
    assert sidecar["sha256"] == sha256_of(artifact.path)
    assert sidecar["input"]["shape"] == [1, 3, 64, 64] and sidecar["input"]["layout"] == "NCHW"
    assert sidecar["config"] == small_bundle.config and sidecar["drift"]["psnr_db"] > 100
    assert sidecar["toolchain"]["onnxruntime"] and sidecar["precision"] == "fp32"
    assert not list(tmp_path.glob(".mvedge-*"))
    x = np.random.default_rng(0).standard_normal((5, 3, 64, 64)).astype(np.float32)
    out = open_runner(artifact.path).run(x)  # batch 5 through the dynamic batch dimension
    with torch.no_grad():
        ref = small_bundle.model(torch.from_numpy(x)).numpy()
    assert np.abs(out - ref).max() < 1e-4
