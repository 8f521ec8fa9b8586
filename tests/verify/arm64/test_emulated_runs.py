"""Artifacts of the embedded model run on emulated ARM64 kernels (LiteRT with XNNPACK, onnxruntime,
ExecuTorch): the same drift check as on the host, on a few digits, and the report says what ran."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from mvedge.errors import BadInput
from mvedge.verify.arm64 import guest
from mvedge.verify.check import float_reference
from mvedge.verify.metrics import compare
from mvedge.verify.runners import arm64, open_runner
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


def test_an_fp16_tflite_runs_with_xnnpack_fp16_arithmetic_forced_on_arm64(arm64_userland, converted, digits, digit_images) -> None:
    """As ARMv8.2 phones run it: the outputs move away from the host's fp32 arithmetic (they agreed
    to ~140 dB before) by fp16 rounding, and still pass the fp16 threshold."""
    images, labels = digit_images[0][:IMAGES], digit_images[1][:IMAGES]
    artifact = converted("digits", "tflite", "fp16")
    runner = open_runner(artifact, arch="arm64")
    arm = runner.run_all(images)
    assert failures(compare(float_reference(digits, images), arm, labels), "fp16") == []
    facts = runner.describe()
    assert facts["kernels"] == "XNNPACK delegate, fp16 arithmetic forced" and facts["fp16_arithmetic"].startswith("XNNPACK fp16 arithmetic forced")
    host = compare(open_runner(artifact).run_all(images), arm, labels)
    assert 40 < host.psnr_db < 110 and host.top1_agreement == 1.0
    plain = open_runner(artifact, arch="arm64", xnnpack_flags=None).run_all(images)  # LiteRT's own delegate: fp32 arithmetic
    assert compare(open_runner(artifact).run_all(images), plain, None).psnr_db > 120


def test_executorch_opens_on_arm64_with_its_component(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A .pte is no longer refused: its runner asks the userland for the ExecuTorch component and
    runs the guest with it on the path (the userland itself is faked here; the heavy test runs it)."""
    pte = tmp_path / "model.pte"
    pte.write_bytes(b"\0" * 16)
    fake = SimpleNamespace(run=None)
    asked = []
    monkeypatch.setattr(arm64, "userland", lambda progress=None: fake)
    monkeypatch.setattr(arm64, "component", lambda made, name, progress=None: asked.append((made, name)), raising=False)
    runner = open_runner(pte, arch="arm64")
    assert runner.target == "executorch" and runner.components == ("executorch",) and asked == [(fake, "executorch")]
    calls = []

    def run(*args, components=(), cpu="max"):
        calls.append((args, components, cpu))
        np.save(args[4], np.ones((2, 10), np.float32))
        Path(args[5]).write_text(json.dumps({"runtime": "executorch 1.5.1", "delegate": "XNNPACK delegate", "cpu_features": ["asimd"]}))
        return SimpleNamespace(returncode=0, stderr="")

    fake.run = run
    assert runner.run_all(np.zeros((2, 1, 8, 8), np.float32)).shape == (2, 10)
    assert calls[0][0][:2] == ("run", "executorch") and calls[0][1:] == (("executorch",), "max,sme=off")
    assert runner.runtime == "executorch 1.5.1"
    assert arm64.emulated_cpu("executorch") == "max,sme=off" and arm64.emulated_cpu("tflite") == "max"  # what sidecars quote


def test_the_guest_runs_a_pte_as_the_host_runner_does(tiny_pte: Path, tmp_path: Path) -> None:
    """guest.py's ExecuTorch path (without the compiler package), run by this machine's Python:
    the same outputs as the host's runner, its static batch padded, and what ran."""
    images = np.random.default_rng(0).standard_normal((3, 3, 16, 16)).astype(np.float32)
    np.save(tmp_path / "in.npy", images)
    done = subprocess.run([sys.executable, guest.__file__, "run", "executorch", str(tiny_pte), str(tmp_path / "in.npy"),
                           str(tmp_path / "out.npy"), str(tmp_path / "info.json")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    info = json.loads((tmp_path / "info.json").read_text())
    assert info["runtime"].startswith("executorch ") and info["delegate"] == "XNNPACK delegate" and info["torch"].startswith("2.")
    expected = open_runner(tiny_pte).run_all(images)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=1e-5, atol=1e-6)


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


@pytest.mark.heavy  # the ExecuTorch component is a 2.5 GB download (torch's aarch64 CUDA build and the NVIDIA libraries it loads)
@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_executorch_passes_on_arm64_and_agrees_with_the_host(arm64_userland, converted, digits, digit_images, precision: str) -> None:
    images, labels = digit_images[0][:IMAGES], digit_images[1][:IMAGES]
    artifact = converted("digits", "executorch", precision)
    runner = open_runner(artifact, arch="arm64")
    arm = runner.run_all(images)
    assert failures(compare(float_reference(digits, images), arm, labels), precision) == []
    facts = runner.describe()
    assert facts["runtime"] == "executorch 1.5.1" and facts["kernels"] == "XNNPACK delegate" and "torch 2.13.0" in facts["libtorch"]
    assert {"asimd", "asimddp", "i8mm", "sve2"} <= set(facts["cpu_features"]) and "sme" not in facts["cpu_features"]  # max, SME off
    assert facts["cpu"] == "qemu -cpu max,sme=off" and facts["cpu_note"].startswith("SME off")
    host = open_runner(artifact).run_all(images)
    assert compare(host, arm, None).psnr_db > (100 if precision == "fp32" else 30)
