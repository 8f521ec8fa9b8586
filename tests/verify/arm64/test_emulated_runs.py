"""Artifacts of the embedded model run on emulated ARM64 kernels (LiteRT with XNNPACK, onnxruntime):
the same drift check as on the host, on a few digits, and the report says what ran."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mvedge.errors import BadInput
from mvedge.verify.check import float_reference
from mvedge.verify.metrics import compare
from mvedge.verify.runners import open_runner
from mvedge.verify.runners.base import RuntimeUnavailable
from mvedge.verify.thresholds import failures

IMAGES = 4


@pytest.mark.parametrize(("target", "precision", "runtime", "kernels"), [
    ("tflite", "fp32", "ai-edge-litert 1.4.0", "XNNPACK delegate"),
    ("tflite", "int8", "ai-edge-litert 1.4.0", "XNNPACK delegate"),
    ("onnx", "fp32", "onnxruntime 1.32.0", "CPUExecutionProvider"),
])
def test_artifact_passes_on_arm64_and_agrees_with_the_host(
    arm64_userland, converted, digits, digit_images, target: str, precision: str, runtime: str, kernels: str
) -> None:
    images, labels = digit_images[0][:IMAGES], digit_images[1][:IMAGES]
    artifact = converted("digits", target, precision)
    runner = open_runner(artifact, arch="arm64")
    arm = runner.run_all(images)  # one emulated run (seconds): the digits model's artifacts take these images as they are
    drift = compare(float_reference(digits, images), arm, labels)
    assert failures(drift, precision) == []
    facts = runner.describe()
    assert facts["arch"] == "arm64" and facts["runtime"] == runtime and facts["kernels"] == kernels
    assert {"asimd", "asimddp", "fphp", "i8mm"} <= set(facts["cpu_features"])  # qemu -cpu max
    assert facts["emulation_seconds"] > 0 and "qemu-aarch64" in facts["emulator"]
    host = open_runner(artifact).run_all(images)
    assert arm.shape == host.shape
    assert compare(host, arm, None).psnr_db > (100 if precision == "fp32" else 30)
    assert not np.array_equal(arm, np.zeros_like(arm))


def test_executorch_is_refused_in_one_line(tmp_path: Path) -> None:
    pte = tmp_path / "model.pte"
    pte.write_bytes(b"\0" * 16)
    with pytest.raises(RuntimeUnavailable, match=r"^ExecuTorch cannot run on ARM64 here: .*CUDA build") as error:
        open_runner(pte, arch="arm64")
    assert "\n" not in str(error.value)


def test_an_unknown_arch_is_bad_input(tmp_path: Path) -> None:
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"\0")
    with pytest.raises(BadInput, match="unknown architecture 'riscv'"):
        open_runner(onnx, arch="riscv")


@pytest.mark.heavy
@pytest.mark.parametrize(("precision", "options"), [
    ("fp16", {}), ("int8-dynamic", {}), ("int8", {"all_integer": True}),
])
def test_every_tflite_precision_passes_on_arm64(arm64_userland, converted, digits, digit_images, precision: str, options: dict) -> None:
    images, labels = digit_images
    artifact = converted("digits", "tflite", precision, **options)
    runner = open_runner(artifact, arch="arm64")
    arm = runner.run_all(images)
    assert failures(compare(float_reference(digits, images), arm, labels), precision) == []
    assert compare(open_runner(artifact).run_all(images), arm, None).top1_agreement == 1.0
    assert ("fp16_arithmetic" in runner.describe()) == (precision == "fp16")
