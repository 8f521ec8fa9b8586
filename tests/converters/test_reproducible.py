"""Same input, same bytes: two conversions of the embedded digits model, one in this process and
one in a fresh one (so hash seeds, UUIDs and dict ordering differ), give artifacts with the same
sha256 for every target; Core ML packages carry only the model and its weights, with the files'
usual permissions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from converters.registry import TARGETS
from mvedge.artifact import sha256_of

ROOT = Path(__file__).resolve().parents[2]
PRECISION = {"coreml": "fp16", "tflite": "fp32", "executorch": "fp32", "onnx": "fp32"}

_CONVERT_AGAIN = """
import json, sys, warnings
warnings.simplefilter("ignore")
from converters.base import ConvertOptions, MissingExtra
from converters.pipeline import convert
from mvedge.model.bundle import load_bundle
from mvedge.progress import Progress
bundle, out, made = load_bundle(), sys.argv[1], {}
for pair in sys.argv[2:]:
    target, precision = pair.split(":")
    try:
        made[target] = str(convert(bundle, target, precision, out, ConvertOptions(precision, bundle.image_size), verify=False, progress=Progress(quiet=True)).path)
    except MissingExtra:
        pass
print(json.dumps(made))
"""


@pytest.fixture(scope="module")
def converted_again(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every target's digits artifact, converted a second time in another Python process."""
    out = tmp_path_factory.mktemp("again")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    pairs = [f"{target}:{PRECISION[target]}" for target in TARGETS]
    done = subprocess.run([sys.executable, "-c", _CONVERT_AGAIN, str(out), *pairs], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return {target: Path(path) for target, path in json.loads(done.stdout.strip().splitlines()[-1]).items()}


@pytest.mark.parametrize("target", TARGETS)
def test_two_conversions_give_the_same_bytes(target: str, converted, converted_again: dict[str, Path]) -> None:
    first = converted("digits", target, PRECISION[target])
    assert target in converted_again
    assert sha256_of(first) == sha256_of(converted_again[target])


def test_a_core_ml_package_holds_the_model_and_weights_with_usual_permissions(converted) -> None:
    package = converted("digits", "coreml", "fp16")
    files = sorted(str(p.relative_to(package)) for p in package.rglob("*") if p.is_file())
    assert files == ["Data/com.apple.CoreML/model.mlmodel", "Data/com.apple.CoreML/weights/weight.bin", "Manifest.json"]
    umask = os.umask(0)
    os.umask(umask)
    for path in package.rglob("*"):
        wanted = (0o777 if path.is_dir() else 0o666) & ~umask
        assert path.stat().st_mode & 0o777 == wanted, path


def test_a_core_ml_package_records_no_conversion_date(converted) -> None:
    ct = pytest.importorskip("coremltools")
    package = converted("digits", "coreml", "fp16")
    model = ct.models.MLModel(str(package), skip_model_load=True)
    assert "com.github.apple.coremltools.conversion_date" not in model.user_defined_metadata
    assert model.user_defined_metadata["mvedge.model"] == "mambavision-digits"
