"""`mvedge bundle`'s output: the layout each app reads, index.json, samples and the contract
(refusals and re-bundling from the command line: tests/commands/test_bundle.py)."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from mvedge.artifact import sha256_of
from mvedge.apps import tolerances
from mvedge.apps.layout import LAYOUTS
from tests.apps.conftest import need

ANDROID_LAYOUT, IOS_LAYOUT = LAYOUTS["android"], LAYOUTS["ios"]


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
    assert artifact["image_input"] is True and artifact["input"]["dtype"] == "image"
    assert artifact["tolerance"]["score_abs"] == 1e-2  # fp16


def test_the_contract_carries_the_measured_tolerances(android_bundled: Path, artifacts) -> None:
    tflite, pte = need(artifacts, "tflite", "executorch")
    document = json.loads((android_bundled / ANDROID_LAYOUT.contract / "contract.json").read_text())
    entries = {a["file"]: a for a in document["artifacts"]}
    packaged = {(e["target"], e["precision"]): e for e in tolerances.table()["tolerances"]}
    measured = packaged[("tflite", "fp32")]
    assert measured["basis"] == "measured"
    assert entries[tflite.name]["tolerance"] == {k: measured[k] for k in tolerances.KEYS}
    assert entries[tflite.name]["tolerance"]["logits_abs"] >= tolerances.table()["safety_factor"] * measured["measured"]["logits_abs"]
    assert entries[tflite.name]["tolerance_basis"].startswith("measured: ")
    executorch = packaged[("executorch", "fp32")]  # measured on ARM64 too now
    assert executorch["basis"] == "measured"
    assert entries[pte.name]["tolerance"] == {k: executorch[k] for k in tolerances.KEYS}
    assert entries[pte.name]["tolerance_basis"].startswith("measured: ")
