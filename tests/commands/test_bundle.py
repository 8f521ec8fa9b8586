"""`mvedge bundle`: the layout each app reads, index.json, samples, and clean refusals."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mvedge.artifact import sha256_of
from mvedge.apps.layout import LAYOUTS
from mvedge.cli import main
from tests.apps.conftest import ANDROID, copy_app, need

ANDROID_LAYOUT, IOS_LAYOUT = LAYOUTS["android"], LAYOUTS["ios"]


def _tree(folder: Path) -> dict[str, int]:
    """Relative path -> size of every file (to show that a refused bundle changed nothing)."""
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def test_android_layout_index_and_samples(android_bundled: Path, artifacts) -> None:
    tflite, pte = need(artifacts, "tflite", "executorch")
    models = android_bundled / ANDROID_LAYOUT.models
    for artifact, runtime in ((tflite, "litert"), (pte, "executorch")):
        copied = models / artifact.name
        assert copied.read_bytes() == artifact.read_bytes()
        sidecar = json.loads((models / (artifact.name + ".json")).read_text())
        assert sidecar == json.loads(Path(str(artifact) + ".json").read_text())
        assert sidecar["labels"] == [str(i) for i in range(10)]
    index = json.loads((models / "index.json").read_text())
    assert index["schema"] == "mvedge.bundle/1" and index["app"] == "android"
    entries = {m["file"]: m for m in index["models"]}
    assert set(entries) == {tflite.name, pte.name}
    assert entries[tflite.name]["runtime"] == "litert" and entries[pte.name]["runtime"] == "executorch"
    assert entries[tflite.name]["input"]["layout"] == "NHWC" and entries[tflite.name]["input"]["shape"] == [1, 128, 128, 3]
    for name, entry in entries.items():
        assert entry["sidecar"] == name + ".json"
        assert entry["sha256"] == json.loads((models / entry["sidecar"]).read_text())["sha256"] == sha256_of(models / name)
        assert entry["digit_canvas"] is True and entry["num_classes"] == 10
    samples = android_bundled / ANDROID_LAYOUT.samples
    assert sorted(s["label"] for s in index["samples"]) == [str(i) for i in range(10)]
    for sample in index["samples"]:
        picture = Image.open(samples / sample["file"])
        assert picture.size == (8, 8) and picture.mode == "RGB"
    contract = android_bundled / ANDROID_LAYOUT.contract
    document = json.loads((contract / "contract.json").read_text())
    assert {a["file"] for a in document["artifacts"]} == {tflite.name, pte.name}
    assert len(document["images"]) == 4 and len({i["label"] for i in document["images"]}) == 4
    for entry in document["artifacts"]:
        assert entry["sha256"] == entries[entry["file"]]["sha256"]
        for case in entry["cases"]:
            assert (contract / case["pixels"]).stat().st_size == 128 * 128 * 3
            assert (contract / case["input"]).stat().st_size == 128 * 128 * 3 * 4
            assert (contract / case["logits"]).stat().st_size == 10 * 4
    assert not list(android_bundled.glob(".mvedge-bundle-*"))


def test_ios_layout(ios_bundled: Path, artifacts) -> None:
    (package,) = need(artifacts, "coreml")
    models = ios_bundled / IOS_LAYOUT.models
    copied = models / package.name
    assert copied.is_dir() and sha256_of(copied) == sha256_of(package)
    index = json.loads((models / "index.json").read_text())
    (entry,) = index["models"]
    assert entry["file"] == package.name and entry["runtime"] == "coreml" and entry["image_input"] is True
    assert (models / entry["sidecar"]).is_file()
    assert len(list((ios_bundled / IOS_LAYOUT.samples).glob("digit-*.png"))) == 10
    document = json.loads((ios_bundled / IOS_LAYOUT.contract / "contract.json").read_text())
    assert document["app"] == "ios" and len(document["images"]) == 2
    (artifact,) = document["artifacts"]
    assert artifact["image_input"] is True and artifact["input"]["dtype"] == "uint8"
    assert artifact["tolerance"]["score_abs"] == 1e-2  # fp16


def test_rebundling_with_force_keeps_the_other_models(artifacts, tmp_path: Path) -> None:
    tflite, pte = need(artifacts, "tflite", "executorch")
    app = copy_app(ANDROID, tmp_path / "android_demo")
    assert main(["bundle", "--app", "android", "--app-dir", str(app), "--images", "1", str(tflite)]) == 0
    assert main(["bundle", "--app", "android", "--app-dir", str(app), "--images", "1", str(pte)]) == 0
    assert main(["bundle", "--app", "android", "--app-dir", str(app), "--images", "1", "--force", str(pte)]) == 0
    index = json.loads((app / ANDROID_LAYOUT.models / "index.json").read_text())
    assert sorted(m["file"] for m in index["models"]) == sorted([tflite.name, pte.name])
    document = json.loads((app / ANDROID_LAYOUT.contract / "contract.json").read_text())
    assert sorted(a["file"] for a in document["artifacts"]) == sorted([tflite.name, pte.name])


def _refused(capsys, argv: list[str], fragment: str) -> None:
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    errors = [line for line in err if line.startswith("mvedge: error: ")]
    # progress lines ([bundle] ...) may come first; the error is one line, the last
    assert len(errors) == 1 and err[-1] == errors[0] and fragment in errors[0], err
    assert not any("Traceback" in line for line in err), err


def test_bad_input_is_refused_cleanly(artifacts, tmp_path: Path, capsys) -> None:
    tflite, pte, package = need(artifacts, "tflite", "executorch", "coreml")
    app = copy_app(ANDROID, tmp_path / "android_demo")
    ios = copy_app(ANDROID.parent / "ios_demo", tmp_path / "ios_demo")
    before = _tree(app)
    lonely = tmp_path / "lonely" / tflite.name
    lonely.parent.mkdir()
    shutil.copy(tflite, lonely)
    base = ["bundle", "--app", "android", "--app-dir", str(app)]
    _refused(capsys, base + [str(tmp_path / "missing.tflite")], "does not exist")
    _refused(capsys, base + [str(lonely)], "has no sidecar")
    _refused(capsys, ["bundle", "--app", "windows", "--app-dir", str(app), str(tflite)], "unknown app 'windows'")
    _refused(capsys, base + [str(package)], "cannot run")
    _refused(capsys, ["bundle", "--app", "ios", "--app-dir", str(ios), str(tflite)], "cannot run")
    _refused(capsys, base + [str(tflite), str(tflite)], "given twice")
    _refused(capsys, ["bundle", "--app", "android", "--app-dir", str(tmp_path), str(tflite)], "is not the android demo app")
    broken = tmp_path / "broken" / pte.name
    broken.parent.mkdir()
    shutil.copy(pte, broken)
    Path(str(broken) + ".json").write_text("{not json")
    _refused(capsys, base + [str(broken)], "not readable JSON")
    assert _tree(app) == before
    assert main(base + ["--images", "1", str(tflite)]) == 0
    capsys.readouterr()
    after = _tree(app)
    _refused(capsys, base + ["--images", "1", str(tflite)], "--force")
    assert _tree(app) == after
    assert not list(app.glob(".mvedge-bundle-*"))


def test_a_failure_while_building_leaves_the_app_untouched(artifacts, tmp_path: Path, monkeypatch, capsys) -> None:
    (tflite,) = need(artifacts, "tflite")
    app = copy_app(ANDROID, tmp_path / "android_demo")
    before = _tree(app)

    def broken_runner(path):
        raise ValueError("runtime exploded while computing the contract")

    monkeypatch.setattr("mvedge.apps.contract._runner", broken_runner)
    _refused(capsys, ["bundle", "--app", "android", "--app-dir", str(app), str(tflite)], "runtime exploded")
    assert _tree(app) == before
    assert not list(app.glob(".mvedge-bundle-*"))


def test_an_incomplete_sidecar_is_refused_naming_the_field(artifacts, tmp_path: Path, capsys) -> None:
    (tflite,) = need(artifacts, "tflite")
    app = copy_app(ANDROID, tmp_path / "android_demo")
    before = _tree(app)
    partial = tmp_path / "partial" / tflite.name
    partial.parent.mkdir()
    shutil.copy(tflite, partial)
    data = json.loads(Path(str(tflite) + ".json").read_text())
    del data["input"]["layout"]
    Path(str(partial) + ".json").write_text(json.dumps(data))
    _refused(capsys, ["bundle", "--app", "android", "--app-dir", str(app), str(partial)], "field 'input.layout' is missing")
    assert _tree(app) == before
