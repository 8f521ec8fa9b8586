"""Shared fixtures for the demo-app tests: artifacts of the embedded digits model from the session
cache (tests/conftest.py `converted`), and copies of the two app folders with
those artifacts bundled by `mvedge bundle` (the repository's own app folders are never written)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ANDROID = REPO / "android_demo"
IOS = REPO / "ios_demo"
GENERATED = ("models", "samples", "contract", "Models", "Samples", "Contract", "build", ".gradle")

# target, precision, options: NHWC TFLite so the layout path is exercised; the .pte and .onnx are NCHW
CONVERSIONS = {
    "tflite": ("fp32", {"nhwc": True}),
    "executorch": ("fp32", {}),
    "coreml": ("fp16", {}),
    "onnx": ("fp32", {}),
}


def app_artifacts(converted, *targets: str) -> list[Path]:
    """The digits model's artifacts of `targets` as the apps bundle them, from the session cache
    (tests/conftest.py `converted`); a target whose toolchain is missing skips the test."""
    return [converted("digits", t, CONVERSIONS[t][0], **CONVERSIONS[t][1]) for t in targets]


@pytest.fixture(scope="session")
def artifacts(converted) -> Callable[[str], Path]:
    """target -> artifact path (sidecar next to it), as app_artifacts gives it."""
    return lambda target: app_artifacts(converted, target)[0]


def need(artifacts: Callable[[str], Path], *targets: str) -> list[Path]:
    """The artifacts of `targets` (skips when a toolchain is not installed)."""
    return [artifacts(t) for t in targets]


def copy_app(source: Path, destination: Path) -> Path:
    """A copy of an app folder without anything `mvedge bundle` or a build wrote."""
    shutil.copytree(source, destination, ignore=lambda folder, names: [n for n in names if n in GENERATED or n.startswith(".mvedge-bundle-")])
    return destination


@pytest.fixture(scope="session")
def android_bundled(artifacts, tmp_path_factory) -> Path:
    """A copy of android_demo/ with the .tflite and .pte bundled through the command line."""
    from mvedge.cli import main

    tflite, pte = need(artifacts, "tflite", "executorch")
    app = copy_app(ANDROID, tmp_path_factory.mktemp("android") / "android_demo")
    assert main(["bundle", "--app", "android", "--app-dir", str(app), "--json", "-", str(tflite), str(pte)]) == 0
    return app


@pytest.fixture(scope="session")
def ios_bundled(artifacts, tmp_path_factory) -> Path:
    """A copy of ios_demo/ with the .mlpackage bundled (2 contract images: the MIL interpreter is slow)."""
    from mvedge.apps.bundle import bundle
    from mvedge.progress import Progress

    (package,) = need(artifacts, "coreml")
    app = copy_app(IOS, tmp_path_factory.mktemp("ios") / "ios_demo")
    bundle("ios", [package], app, contract_images=2, progress=Progress(quiet=True))
    return app
