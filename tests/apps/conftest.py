"""Shared fixtures for the demo-app tests: artifacts of the embedded digits model converted once per
session (no drift check: tests/converters checks that), and copies of the two app folders with
those artifacts bundled by `mvedge bundle` (the repository's own app folders are never written)."""

from __future__ import annotations

import shutil
import warnings
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


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """target -> artifact path (sidecar next to it); targets whose toolchain is missing are absent."""
    from converters.base import ConvertOptions, MissingExtra
    from converters.pipeline import convert
    from mvedge.model.bundle import load_bundle
    from mvedge.progress import Progress

    out = tmp_path_factory.mktemp("artifacts")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bundle = load_bundle()
        made = {}
        for target, (precision, extra) in CONVERSIONS.items():
            options = ConvertOptions(precision, bundle.image_size, extra=dict(extra))
            try:
                made[target] = convert(bundle, target, precision, out, options, verify=False, progress=Progress(quiet=True)).path
            except MissingExtra:
                continue
    return made


def need(artifacts: dict[str, Path], *targets: str) -> list[Path]:
    """The artifacts of `targets`, or skip when a toolchain is not installed."""
    missing = [t for t in targets if t not in artifacts]
    if missing:
        pytest.skip(f"toolchain not installed for {', '.join(missing)}")
    return [artifacts[t] for t in targets]


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
    assert main(["bundle", "--app", "android", "--app-dir", str(app), "--json", str(tflite), str(pte)]) == 0
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
