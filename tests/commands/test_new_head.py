"""--num-classes: `build` and `convert` keep the backbone and give a new head, say on stderr that it
is untrained, carry no class names unless --labels names them (as many as the head has), and
`verify` reproduces the same head from the sidecar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mvedge
import mvedge.verify.data
from mvedge.cli import main
from mvedge.model.bundle import ModelBundle, load_bundle
from mvedge.model.checkpoints import save_checkpoint
from mvedge.model.configs import test_config
from mvedge.verify.reference import seeded_model
from tests.commands.cli import error_line
from tests.sidecars import write_test_sidecar


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded tiny model (10 classes, 64 px) saved as a checkpoint."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.safetensors"
    save_checkpoint(seeded_model(test_config("tiny")), path)
    return path


def test_build_saves_a_backbone_with_a_new_head(tiny_weights: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "five.safetensors"
    assert main(["build", "--weights", str(tiny_weights), "--num-classes", "5", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "output       (1, 5)" in captured.out
    assert f"new 5-class head, freshly initialised and untrained (only the backbone comes from {tiny_weights})" in captured.err
    reloaded = mvedge.load_checkpoint(out)
    tiny = mvedge.load_checkpoint(tiny_weights)
    assert reloaded.num_classes == 5
    assert all(v.equal(tiny.state_dict()[k]) for k, v in reloaded.state_dict().items() if not k.startswith("head."))


def test_the_same_class_count_changes_nothing(tiny_weights: Path, capsys) -> None:
    assert main(["build", "--weights", str(tiny_weights), "--num-classes", "10"]) == 0
    assert "untrained" not in capsys.readouterr().err


def test_hugging_face_variant_names_are_accepted(capsys) -> None:
    assert main(["build", "--variant", "MambaVision-T-1K", "--image-size", "32"]) == 0
    assert "variant      T" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["0", "-2"])
def test_a_bad_class_count_is_one_line(value: str, capsys) -> None:
    assert "--num-classes must be a positive integer" in error_line(capsys, ["build", "--num-classes", value])


class _Stop(Exception):
    """Raised by the stand-in image loader once the command has resolved its model."""


def _bundle_seen_by(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> ModelBundle:
    """The bundle a command hands to the verification image loader (it stops there)."""
    seen: list[ModelBundle] = []

    def stand_in(bundle: ModelBundle, *args, **kwargs):
        seen.append(bundle)
        raise _Stop

    monkeypatch.setattr(mvedge.verify.data, "verification_set", stand_in)
    with pytest.raises(_Stop):
        main(argv)
    return seen[0]


def test_convert_gives_the_new_head_the_labels_file_names(tiny_weights: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\ndog\nbird\n")
    argv = ["convert", "--target", "onnx", "--weights", str(tiny_weights), "--num-classes", "3", "--labels", str(labels), "--out", str(tmp_path / "o")]
    bundle = _bundle_seen_by(argv, monkeypatch)
    assert bundle.config["num_classes"] == 3 and bundle.labels == ["cat", "dog", "bird"] and bundle.model.num_classes == 3
    assert "new 3-class head, freshly initialised and untrained" in capsys.readouterr().err


def test_verify_rebuilds_the_same_head_from_the_sidecar(tiny_weights: Path, tmp_path: Path, monkeypatch) -> None:
    """An artifact converted with --num-classes 3 records 3 classes; verify, given the original
    checkpoint, builds the same (seeded) head, so the drift check compares like with like."""
    converted = load_bundle(str(tiny_weights), num_classes=3)
    artifact = tmp_path / "tiny.onnx"
    artifact.write_bytes(b"stand-in")
    size = converted.image_size
    write_test_sidecar(artifact, shape=(1, 3, size, size), classes=3, config=converted.config, source=str(tiny_weights))
    seen = _bundle_seen_by(["verify", str(artifact), "--weights", str(tiny_weights), "--ignore-sha"], monkeypatch)
    assert seen.config == converted.config
    assert all(v.equal(converted.model.state_dict()[k]) for k, v in seen.model.state_dict().items())


@pytest.mark.heavy
def test_convert_with_a_new_head_and_labels_then_verify(tiny_weights: Path, tmp_path: Path, capsys) -> None:
    """The whole way: a real ONNX conversion with its drift check, then `mvedge verify` on it."""
    pytest.importorskip("onnxruntime")
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\ndog\nbird\n")
    out = tmp_path / "out"
    argv = ["--weights", str(tiny_weights), "--limit", "4"]
    assert main(["convert", "--target", "onnx", "--num-classes", "3", "--labels", str(labels), "--out", str(out), *argv]) == 0
    assert "new 3-class head" in capsys.readouterr().err
    (artifact,) = out.glob("*.onnx")
    sidecar = json.loads(Path(f"{artifact}.json").read_text())
    assert sidecar["config"]["num_classes"] == 3 and sidecar["labels"] == ["cat", "dog", "bird"]
    assert sidecar["output"]["shape"][-1] == 3
    assert main(["verify", str(artifact), *argv]) == 0  # the seeded head again: the drift check passes


def test_a_new_head_has_no_class_names_and_a_labels_file_must_fit_it(tmp_path: Path, capsys) -> None:
    bundle = load_bundle(num_classes=3)  # the embedded digits model's backbone
    assert bundle.labels is None and bundle.config["num_classes"] == 3 and bundle.extra["untrained_head"]
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"{i}\n" for i in range(10)))
    line = error_line(capsys, ["convert", "--target", "onnx", "--num-classes", "3", "--labels", str(labels), "--out", str(tmp_path / "o")])
    assert "10 names but the model has 3 classes" in line
