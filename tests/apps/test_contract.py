"""Contract vectors: each runtime artifact reproduces its stored top-5 from the stored input, the stored
inputs are mvedge's preprocessing, and a corrupted contract is caught."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mvedge.apps import contract as C
from mvedge.apps.layout import LAYOUTS
from mvedge.data.images import preprocess
from mvedge.model.preprocessing import Preprocessing
from tests.apps.conftest import need


def _android_contract(app: Path) -> tuple[Path, Path]:
    layout = LAYOUTS["android"]
    return app / layout.contract, app / layout.models


@pytest.mark.parametrize(
    "pre",
    [
        Preprocessing(input_size=128, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), interpolation="bilinear", crop_mode="squash"),
        Preprocessing(input_size=56, interpolation="bicubic", crop_pct=0.875, crop_mode="center"),
        Preprocessing(input_size=33, interpolation="nearest", crop_pct=0.93, crop_mode="center"),
        Preprocessing(input_size=40, interpolation="bilinear", crop_pct=1.3, crop_mode="center"),  # crop larger than the picture: padding
    ],
)
def test_contract_preprocessing_is_mvedges(pre: Preprocessing) -> None:
    rng = np.random.default_rng(3)
    for size in [(8, 8), (97, 61), (40, 73)]:
        picture = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")
        ours = C.tensor_from_pixels(C.pixels_for(picture, pre), pre)
        assert np.array_equal(ours, preprocess(picture, pre))


def test_android_artifacts_reproduce_their_contract(android_bundled: Path) -> None:
    assert C.check_contract(*_android_contract(android_bundled)) == []


def test_coreml_package_reproduces_its_contract(ios_bundled: Path) -> None:
    layout = LAYOUTS["ios"]
    assert C.check_contract(ios_bundled / layout.contract, ios_bundled / layout.models) == []


def test_onnx_artifact_reproduces_its_contract(artifacts, tmp_path: Path) -> None:
    (onnx,) = need(artifacts, "onnx")
    sidecar = json.loads(Path(str(onnx) + ".json").read_text())
    images = C.contract_images(sidecar, 3)
    entry, files = C.build_entry(onnx, sidecar, "onnxruntime", images)
    for relative, data in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(data)
    (tmp_path / "images").mkdir()
    for picture in images:
        (tmp_path / "images" / f"{picture.name}.png").write_bytes(C.png_bytes(picture.image))
    (tmp_path / "contract.json").write_text(json.dumps(C.contract_document("test", images, [entry])))
    assert C.check_contract(tmp_path, onnx.parent) == []
    # the held-out digits are classified right, so the expectations are the model working
    assert [case["top5"][0]["index"] for case in entry["cases"]] == [image.label for image in images]


@pytest.mark.parametrize(
    ("shape", "sizes", "taken"),
    [([1, 3, 96, 128], None, "96x128"), ([1, 3, 128, 128], [[128, 128], [96, 128]], "128x128, 96x128")],
)
def test_a_non_square_or_multi_size_artifact_is_refused_for_the_apps(artifacts, shape, sizes, taken) -> None:
    (onnx,) = need(artifacts, "onnx")
    sidecar = json.loads(Path(str(onnx) + ".json").read_text())
    sidecar["input"] = {**sidecar["input"], "shape": shape, "sizes": sizes}
    with pytest.raises(C.BadInput, match=f"the demo apps take one square input size, and this artifact takes {taken}; convert one"):
        C.build_entry(onnx, sidecar, "onnxruntime", [], runner=object())


def _copy_contract(app: Path, tmp_path: Path) -> tuple[Path, Path, dict]:
    contract, models = _android_contract(app)
    target = tmp_path / "contract"
    shutil.copytree(contract, target)
    return target, models, json.loads((target / "contract.json").read_text())


def _entry(document: dict, suffix: str) -> dict:
    return next(a for a in document["artifacts"] if a["file"].endswith(suffix))


def test_swapped_layout_is_caught(android_bundled: Path, tmp_path: Path) -> None:
    """NCHW bytes stored for the NHWC TFLite input: both the input check and the runtime check fail."""
    contract, models, document = _copy_contract(android_bundled, tmp_path)
    entry = _entry(document, ".tflite")
    assert entry["input"]["layout"] == "NHWC"
    case = entry["cases"][0]
    stored = np.frombuffer((contract / case["input"]).read_bytes(), dtype="<f4").reshape(1, 128, 128, 3)
    (contract / case["input"]).write_bytes(np.ascontiguousarray(stored.transpose(0, 3, 1, 2)).tobytes())
    problems = C.check_contract(contract, models)
    assert any("stored input differs" in p for p in problems), problems
    assert any("logits differ" in p for p in problems), problems


def test_wrong_mean_is_caught_by_the_input_check(android_bundled: Path, tmp_path: Path) -> None:
    contract, models, document = _copy_contract(android_bundled, tmp_path)
    _entry(document, ".pte")["preprocessing"]["mean"] = [0.45, 0.45, 0.45]
    (contract / "contract.json").write_text(json.dumps(document))
    problems = C.check_contract(contract, models, run=False)
    assert sum("stored input differs" in p for p in problems) == len(_entry(document, ".pte")["cases"]), problems
    assert any("preprocessing differs from the artifact's sidecar" in p for p in problems), problems


@pytest.mark.parametrize("corruption", ["mean", "layout"])
def test_a_consistent_but_wrong_contract_fails_in_the_runtime(android_bundled: Path, tmp_path: Path, corruption: str) -> None:
    """Inputs rebuilt with a wrong mean (or channels-first for the NHWC model) and the contract saying
    so: the stored inputs match the contract's own preprocessing, so only running the artifact on
    them, as the app would, can catch it, and it does."""
    contract, models, document = _copy_contract(android_bundled, tmp_path)
    entry = _entry(document, ".tflite")
    pictures = {p["name"]: Image.open(contract / p["file"]).convert("RGB") for p in document["images"]}
    if corruption == "mean":
        entry["preprocessing"]["mean"] = [0.4, 0.4, 0.4]
    else:
        entry["input"]["layout"], entry["input"]["shape"] = "NCHW", [1, 3, 128, 128]
    pre = C.preprocessing_from_sidecar(entry)
    for case in entry["cases"]:
        tensor = C.to_layout(C.tensor_from_pixels(C.pixels_for(pictures[case["image"]], pre), pre), entry["input"]["layout"])
        (contract / case["input"]).write_bytes(tensor.astype("<f4").tobytes())
    (contract / "contract.json").write_text(json.dumps(document))
    problems = C.check_contract(contract, models)
    assert not any("stored input differs" in p for p in problems), problems
    assert sum("logits differ" in p for p in problems) == len(entry["cases"]), problems
    assert any("differs from the artifact's sidecar" in p for p in problems), problems


def test_another_file_under_the_same_name_is_caught(android_bundled: Path, artifacts, tmp_path: Path) -> None:
    contract, models, document = _copy_contract(android_bundled, tmp_path)
    fake_models = tmp_path / "models"
    shutil.copytree(models, fake_models)
    pte = _entry(document, ".pte")["file"]
    with open(fake_models / pte, "ab") as handle:
        handle.write(b"\0")
    problems = C.check_contract(contract, fake_models, run=False)
    assert any("sha256 differs" in p for p in problems), problems


def test_comparison_rule() -> None:
    logits = np.array([4.0, 1.0, 0.0, -1.0], dtype=np.float32)
    top = C.top_k(C.softmax(logits), ["a", "b", "c", "d"])
    tol = {"input_abs": 1e-6, "logits_abs": 1e-3, "score_abs": 1e-3}
    assert C.compare_outputs(logits, top, logits + np.float32(5e-4), tol) == []
    assert any("logits differ" in p for p in C.compare_outputs(logits, top, logits * np.float32(1.05), tol))
    assert any("top-1" in p for p in C.compare_outputs(logits, top, logits[[1, 0, 2, 3]], dict(tol, logits_abs=10, score_abs=1e-3)))
    tie = np.array([1.0, 0.999], dtype=np.float32)
    assert C.compare_outputs(tie, C.top_k(C.softmax(tie), None), tie[::-1].copy(), dict(tol, logits_abs=1.0)) == []
