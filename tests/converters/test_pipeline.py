"""The shared pipeline: refusals, atomic output, and a drift check that can fail."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

pytest.importorskip("onnxruntime")

from converters import registry  # noqa: E402
from converters.base import ConversionError, MissingExtra  # noqa: E402
from converters.onnx import OnnxConverter  # noqa: E402
from converters.pipeline import VerificationFailed, convert  # noqa: E402


def test_existing_output_needs_force(small_bundle, tmp_path: Path) -> None:
    first = convert(small_bundle, "onnx", "fp32", tmp_path, verify=False)
    stamp = first.path.stat().st_mtime_ns
    with pytest.raises(ConversionError, match="already exists; pass --force"):
        convert(small_bundle, "onnx", "fp32", tmp_path, verify=False)
    assert first.path.stat().st_mtime_ns == stamp
    again = convert(small_bundle, "onnx", "fp32", tmp_path, verify=False, force=True)
    assert again.verify_note == "not verified (--no-verify)" and again.drift is None


def test_unsupported_precision(small_bundle, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="does not support precision 'int4'"):
        convert(small_bundle, "onnx", "int4", tmp_path)
    assert not any(tmp_path.iterdir())


def test_unknown_target(small_bundle, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="unknown target 'tensorrt'"):
        convert(small_bundle, "tensorrt", "fp32", tmp_path)


def test_missing_extra_names_the_pip_command(small_bundle, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(OnnxConverter, "modules", ("mvedge_no_such_module",))
    with pytest.raises(MissingExtra, match=r'pip install "mvedge\[onnx\]"'):
        convert(small_bundle, "onnx", "fp32", tmp_path)
    assert not any(tmp_path.iterdir())


def test_a_drifting_artifact_is_refused_and_nothing_is_written(small_bundle, tmp_path: Path, monkeypatch) -> None:
    """An artifact whose first Mamba mixer lost its output (the reference keeps it) fails the fp32 check."""
    original = OnnxConverter.convert

    def perturbed(self, bundle, options, out_path, progress):
        broken = copy.deepcopy(bundle)
        with torch.no_grad():
            broken.model.levels[2].blocks[0].mixer.out_proj.weight.zero_()
        return original(self, broken, options, out_path, progress)

    monkeypatch.setattr(OnnxConverter, "convert", perturbed)
    with pytest.raises(VerificationFailed, match="drifts past its threshold"):
        convert(small_bundle, "onnx", "fp32", tmp_path)
    assert not any(tmp_path.iterdir())


def test_registry_lists_every_target() -> None:
    assert registry.TARGETS == ("coreml", "tflite", "executorch", "onnx")


def test_verification_runs_on_the_sidecar_in_memory_and_the_sidecar_is_written_once(small_bundle, tmp_path: Path, monkeypatch) -> None:
    """No partial sidecar on disk while verifying; the runner gets the pipeline's own sidecar; the
    sidecar is written once, complete, before the rename."""
    import converters.pipeline as pipeline
    from mvedge.artifact import read_sidecar, sidecar_path

    seen, writes = {}, []
    real_verify, real_write = pipeline.verify_artifact, pipeline.write_sidecar

    def verify(path, bundle, images, labels, sidecar=None, **options):
        seen["file during verify"] = sidecar_path(path).exists()
        seen["sidecar"] = sidecar
        return real_verify(path, bundle, images, labels, sidecar=sidecar, **options)

    def write(artifact, sidecar):
        writes.append((Path(artifact).parent != tmp_path, sidecar.sha256, sidecar.verification))
        return real_write(artifact, sidecar)

    monkeypatch.setattr(pipeline, "verify_artifact", verify)
    monkeypatch.setattr(pipeline, "write_sidecar", write)
    artifact = convert(small_bundle, "onnx", "fp32", tmp_path)
    assert seen["file during verify"] is False and seen["sidecar"] is artifact.sidecar
    assert writes == [(True, artifact.sidecar.sha256, "verified")]  # once, in the staging folder, complete
    assert read_sidecar(artifact.path).sha256 == artifact.sidecar.sha256
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([artifact.path.name, artifact.path.name + ".json"])
