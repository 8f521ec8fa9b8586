"""Every command resolves its model the same way: a QAT checkpoint of the digits model is checked on
the held-out digits with the digits preprocessing by `convert`, `verify`, `benchmark` and
`quant-report` alike, and `verify` measures the drift `convert` measured for the same artifact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mvedge.data.calibration
import mvedge.verify.data
from mvedge.cli import main
from mvedge.model.bundle import ModelBundle, load_bundle
from tests.model.test_bundle import save_digits_qat_checkpoint

pytest.importorskip("onnxruntime")


class _Stop(Exception):
    """Raised by the stand-in image loaders once the command has shown its bundle."""


@pytest.fixture(scope="module")
def digits_qat(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_digits_qat_checkpoint(tmp_path_factory.mktemp("qat") / "digits-qat.safetensors")


@pytest.fixture(scope="module")
def converted(digits_qat: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The QAT checkpoint converted (and verified) by `mvedge convert --target onnx`."""
    out = tmp_path_factory.mktemp("convert")
    assert main(["convert", "--target", "onnx", "--weights", str(digits_qat), "--out", str(out)]) == 0
    (artifact,) = out.glob("*.onnx")
    return artifact


def _bundle_seen_by(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> ModelBundle:
    """The bundle a command hands to the image loaders (verification or calibration set)."""
    seen: list[ModelBundle] = []

    def stand_in(bundle: ModelBundle, *args, **kwargs):
        seen.append(bundle)
        raise _Stop

    monkeypatch.setattr(mvedge.verify.data, "verification_set", stand_in)
    monkeypatch.setattr(mvedge.data.calibration, "calibration_set", stand_in)
    with pytest.raises(_Stop):
        main(argv)
    assert len(seen) == 1
    return seen[0]


def _resolution(bundle: ModelBundle) -> tuple:
    return bundle.name, bundle.preprocessing, bundle.labels, getattr(bundle, "domain", None), bundle.image_size


def test_every_command_resolves_a_qat_digits_checkpoint_alike(digits_qat: Path, converted: Path, tmp_path: Path, monkeypatch) -> None:
    weights = ["--weights", str(digits_qat)]
    commands = {
        "convert": ["convert", "--target", "onnx", *weights, "--out", str(tmp_path / "c")],
        "verify": ["verify", str(converted), *weights],
        "benchmark": ["benchmark", "--targets", "onnx", "--precisions", "fp32", *weights, "--out", str(tmp_path / "b")],
        "quant-report": ["quant-report", "--target", "executorch", *weights],
    }
    seen = {name: _resolution(_bundle_seen_by(argv, monkeypatch)) for name, argv in commands.items()}
    base = load_bundle()
    expected = ("mambavision-digits-qat-executorch", base.preprocessing, base.labels, "digits", 128)
    assert seen == {name: expected for name in commands}


def test_verify_measures_the_drift_convert_measured(digits_qat: Path, converted: Path, tmp_path: Path, capsys) -> None:
    sidecar = json.loads(Path(str(converted) + ".json").read_text())
    assert sidecar["preprocessing"] == json.loads(json.dumps(load_bundle().preprocessing.to_dict()))
    report = tmp_path / "verify.json"
    assert main(["verify", str(converted), "--weights", str(digits_qat), "--json", str(report)]) == 0, capsys.readouterr().err
    verified = json.loads(report.read_text())
    assert verified["images"] == "64 held-out digits"
    assert verified["drift"] == sidecar["drift"]
