"""The drift check can fail: perturbed weights, a broken scan, a wrong mean/std, a swapped channel
order and a swapped memory layout must each be caught by the thresholds."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from converters.pipeline import convert
from mvedge.model.scan import SelectiveScan
from mvedge.progress import Progress
from mvedge.verify.check import float_reference, verify_artifact
from mvedge.verify.data import as_the_app_feeds, verification_set
from mvedge.verify.metrics import compare
from mvedge.verify.runners import open_runner
from mvedge.verify.thresholds import THRESHOLDS, failures

pytest.importorskip("onnxruntime")


def _fails_every_threshold(drift) -> bool:
    return all(failures(drift, precision) for precision in THRESHOLDS)


def test_a_faithful_artifact_passes_even_the_fp32_threshold(digits, digit_images, digit_artifacts) -> None:
    drift = verify_artifact(digit_artifacts("onnx", "fp32"), digits, *digit_images)
    assert failures(drift, "fp32") == []
    assert drift.psnr_db > 100


def test_perturbed_weights_are_caught(digits, digit_images, tmp_path: Path) -> None:
    perturbed = copy.deepcopy(digits)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, param in perturbed.model.named_parameters():
            if name.startswith("levels.2.blocks.0.mixer") and param.ndim > 1:
                param.mul_(1 + 0.05 * torch.randn_like(param))  # 5% noise in one mixer's weights
    artifact = convert(perturbed, "onnx", "fp32", tmp_path, verify=False, progress=Progress(quiet=True))
    drift = verify_artifact(artifact.path, digits, *digit_images)
    assert failures(drift, "fp32") and failures(drift, "fp16")


class _StatelessScan(SelectiveScan):
    """A broken scan: the state path is lost, only the skip term D*u is left."""

    def forward(self, u, delta, A, B, C, D, delta_bias):
        return u * D


def test_a_broken_scan_is_caught_by_every_threshold(digits, digit_images, tmp_path: Path) -> None:
    broken = copy.deepcopy(digits)
    for module in broken.model.modules():
        if isinstance(getattr(module, "scan", None), SelectiveScan):
            module.scan = _StatelessScan(module.scan.chunk_size)
    artifact = convert(broken, "onnx", "fp32", tmp_path, verify=False, progress=Progress(quiet=True))
    assert _fails_every_threshold(verify_artifact(artifact.path, digits, *digit_images))


def test_a_wrong_mean_std_in_the_sidecar_is_caught_by_every_threshold(digits, digit_images, digit_artifacts, tmp_path: Path) -> None:
    source = digit_artifacts("onnx", "fp32")
    artifact = tmp_path / source.name
    artifact.write_bytes(source.read_bytes())
    sidecar = json.loads(Path(f"{source}.json").read_text())
    assert sidecar["preprocessing"]["mean"] != [0.485, 0.456, 0.406]
    sidecar["preprocessing"].update(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])  # ImageNet's instead of the model's
    Path(f"{artifact}.json").write_text(json.dumps(sidecar))
    assert _fails_every_threshold(verify_artifact(artifact, digits, *digit_images))


def test_a_swapped_memory_layout_is_caught_by_every_threshold(digits, digit_images, digit_artifacts) -> None:
    images, labels = digit_images
    hwc_read_as_chw = images.transpose(0, 2, 3, 1).reshape(images.shape).copy()  # an app filling the buffer channels-last
    outputs = open_runner(digit_artifacts("onnx", "fp32")).run_all(hwc_read_as_chw)
    assert _fails_every_threshold(compare(float_reference(digits, images), outputs, labels))


def test_a_swapped_channel_order_is_caught_on_natural_images(small_bundle, tmp_path: Path) -> None:
    images, _, _ = verification_set(small_bundle, limit=16)  # crops of packaged photos: colour matters
    artifact = convert(small_bundle, "onnx", "fp32", tmp_path, verify=False, progress=Progress(quiet=True)).path
    sidecar = json.loads(Path(f"{artifact}.json").read_text())
    assert failures(verify_artifact(artifact, small_bundle, images, None), "fp32") == []
    sidecar["preprocessing"]["channels"] = "BGR"
    Path(f"{artifact}.json").write_text(json.dumps(sidecar))
    drift = verify_artifact(artifact, small_bundle, images, None)
    # A random-weight model barely cares about colour (measured: cosine 0.988, 22.8 dB), so only the
    # thresholds down to 6-bit palettes catch it here; 4-bit palettes are meant to be checked on the
    # user's own data (thresholds.py). A trained model's channel sensitivity is far larger.
    assert all(failures(drift, precision) for precision in THRESHOLDS if precision != "palette4")


def test_as_the_app_feeds_replays_the_sidecar_preprocessing() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.uniform(0, 1, (2, 3, 4, 4))
    reference = {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3], "channels": "RGB"}
    images = ((pixels - np.reshape(reference["mean"], (1, 3, 1, 1))) / np.reshape(reference["std"], (1, 3, 1, 1))).astype(np.float32)
    assert np.array_equal(as_the_app_feeds(images, reference, None), images)
    np.testing.assert_allclose(as_the_app_feeds(images, reference, dict(reference)), images, atol=1e-6)
    other = {"mean": [0.1, 0.1, 0.1], "std": [1.0, 1.0, 1.0], "channels": "BGR"}
    np.testing.assert_allclose(as_the_app_feeds(images, reference, other), pixels[:, ::-1] - 0.1, atol=1e-6)
