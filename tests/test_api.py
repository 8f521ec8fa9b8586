"""The notebook API: mvedge.convert (the convert command as a function), mvedge.preprocess, and
the documented options of build and MambaVision.forward."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import mvedge
from mvedge.artifact import read_sidecar, sidecar_path
from mvedge.data.images import preprocess as reference_preprocess
from mvedge.errors import BadInput
from mvedge.model.configs import OPTION_NAMES


def test_build_and_forward_document_their_options() -> None:
    missing = [name for name in OPTION_NAMES if name not in (mvedge.build.__doc__ or "")]
    assert not missing, missing
    forward = mvedge.MambaVision.forward.__doc__ or ""
    assert "logits" in forward and "features" in forward and "in_channels" in forward


def test_preprocess_takes_a_path_or_image_and_a_preprocessing_a_variant_or_a_sidecar(converted, tmp_path: Path) -> None:
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 240, 3), dtype=np.uint8))
    path = tmp_path / "picture.png"
    picture.save(path)
    expected = reference_preprocess(picture, mvedge.preprocessing("T"))
    np.testing.assert_array_equal(mvedge.preprocess(path, "T"), expected)
    np.testing.assert_array_equal(mvedge.preprocess(picture, mvedge.preprocessing("T")), expected)
    artifact = converted("digits", "onnx", "fp32")
    sidecar = read_sidecar(artifact)
    pre = mvedge.Preprocessing.from_dict(sidecar.preprocessing)
    digits = reference_preprocess(picture, pre, sidecar.config["in_channels"])
    np.testing.assert_array_equal(mvedge.preprocess(picture, sidecar_path(artifact)), digits)
    np.testing.assert_array_equal(mvedge.preprocess(str(path), artifact), digits)
    with pytest.raises(BadInput, match="neither a variant name nor an existing sidecar"):
        mvedge.preprocess(picture, tmp_path / "missing.json")


def test_convert_refuses_bad_requests_like_the_command(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="does not support precision 'int4'"):
        mvedge.convert("onnx", "int4", out=tmp_path)
    with pytest.raises(TypeError, match="unexpected option 'bogus'"):
        mvedge.convert("onnx", out=tmp_path, bogus=1)
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="needs the onnx extra")
def test_convert_returns_the_artifacts_with_their_drift(tmp_path: Path) -> None:
    (outcome,) = mvedge.convert("onnx", out=tmp_path)
    assert (outcome.target, outcome.precision, outcome.status) == ("onnx", "fp32", "verified")
    artifact = outcome.artifact
    assert artifact.path.parent == tmp_path and artifact.path.is_file() and sidecar_path(artifact.path).is_file()
    assert artifact.drift is not None and artifact.drift.top1_agreement == 1.0
    assert read_sidecar(artifact.path).drift["psnr_db"] == artifact.drift.psnr_db
    # the same request again: refused like the command (existing output without force)
    with pytest.raises(BadInput, match="already exists"):
        mvedge.convert(["onnx"], out=tmp_path)
    (again,) = mvedge.convert("onnx", "fp32", out=tmp_path, force=True, no_verify=True)
    assert again.status == "converted" and again.artifact.path == artifact.path
