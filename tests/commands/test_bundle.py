"""`mvedge bundle` from the command line: re-bundling with --force, clean one-line refusals of bad
input, and an app left untouched when bundling fails."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mvedge.apps.contract import check_contract
from mvedge.apps.layout import LAYOUTS
from mvedge.cli import main
from mvedge.errors import Failed
from tests.apps.conftest import ANDROID, app_artifacts, copy_app

ANDROID_LAYOUT = LAYOUTS["android"]


def _tree(folder: Path) -> dict[str, int]:
    """Relative path -> size of every file (to show that a refused bundle changed nothing)."""
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def test_rebundling_with_force_keeps_the_other_models(converted, tmp_path: Path) -> None:
    tflite, pte = app_artifacts(converted, "tflite", "executorch")
    app = copy_app(ANDROID, tmp_path / "android_demo")
    assert main(["bundle", "--app", "android", "--app-dir", str(app), "--contract-images", "1", str(tflite)]) == 0
    assert main(["bundle", "--app", "android", "--app-dir", str(app), "--contract-images", "1", str(pte)]) == 0
    assert main(["bundle", "--app", "android", "--app-dir", str(app), "--contract-images", "1", "--force", str(pte)]) == 0
    index = json.loads((app / ANDROID_LAYOUT.models / "index.json").read_text())
    assert sorted(m["file"] for m in index["models"]) == sorted([tflite.name, pte.name])
    document = json.loads((app / ANDROID_LAYOUT.contract / "contract.json").read_text())
    assert sorted(a["file"] for a in document["artifacts"]) == sorted([tflite.name, pte.name])


def _refused(capsys, argv: list[str], fragment: str, exit_code: int = 2) -> None:
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == exit_code, err
    errors = [line for line in err if line.startswith("mvedge: error: ")]
    # progress lines ([bundle] ...) may come first; the error is one line, the last
    assert len(errors) == 1 and err[-1] == errors[0] and fragment in errors[0], err
    assert not any("Traceback" in line for line in err), err


def test_bad_input_is_refused_cleanly(converted, tmp_path: Path, capsys) -> None:
    tflite, pte, package = app_artifacts(converted, "tflite", "executorch", "coreml")
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
    assert main(base + ["--contract-images", "1", str(tflite)]) == 0
    capsys.readouterr()
    after = _tree(app)
    _refused(capsys, base + ["--contract-images", "1", str(tflite)], "--force")
    assert _tree(app) == after
    assert not list(app.glob(".mvedge-bundle-*"))


def test_a_failure_while_building_leaves_the_app_untouched(converted, tmp_path: Path, monkeypatch, capsys) -> None:
    (tflite,) = app_artifacts(converted, "tflite")
    app = copy_app(ANDROID, tmp_path / "android_demo")
    before = _tree(app)

    def broken_runner(path):
        raise Failed("runtime exploded while computing the contract")

    monkeypatch.setattr("mvedge.apps.contract._runner", broken_runner)
    _refused(capsys, ["bundle", "--app", "android", "--app-dir", str(app), str(tflite)], "runtime exploded", exit_code=1)
    assert _tree(app) == before
    assert not list(app.glob(".mvedge-bundle-*"))


def test_an_incomplete_sidecar_is_refused_naming_the_field(converted, tmp_path: Path, capsys) -> None:
    (tflite,) = app_artifacts(converted, "tflite")
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


def test_bundle_json_and_the_contract_image_count(converted, tmp_path: Path, capsys) -> None:
    (tflite,) = app_artifacts(converted, "tflite")
    app = copy_app(ANDROID, tmp_path / "android_demo")
    base = ["bundle", "--app", "android", "--app-dir", str(app)]
    # --images means a folder everywhere else: here it is refused, naming the count's new flag
    _refused(capsys, base + ["--images", "1", str(tflite)], "--contract-images")
    assert main(base + ["--contract-images", "1", "--json", "-", str(tflite)]) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)  # only the JSON on stdout
    assert payload["contract_images"] == 1 and [m["file"] for m in payload["models"]] == [tflite.name]
    report = tmp_path / "bundle.json"
    assert main(base + ["--contract-images", "1", "--force", "--json", str(report), str(tflite)]) == 0
    assert "index" in capsys.readouterr().out
    assert json.loads(report.read_text()) == payload


def test_contract_vectors_from_arm64(arm64_userland, converted, tmp_path: Path, capsys) -> None:
    import numpy as np

    from mvedge.verify.runners import open_runner

    tflite, mlpackage = app_artifacts(converted, "tflite", "coreml")
    ios = copy_app(ANDROID.parent / "ios_demo", tmp_path / "ios_demo")
    before = _tree(ios)
    assert main(["bundle", "--app", "ios", "--app-dir", str(ios), "--arch", "arm64", str(mlpackage)]) == 2
    assert ".mlpackage has no runtime on ARM64 here (Core ML needs an Apple device)" in capsys.readouterr().err and _tree(ios) == before
    app = copy_app(ANDROID, tmp_path / "android_demo")
    argv = ["bundle", "--app", "android", "--app-dir", str(app), "--contract-images", "2", "--arch", "arm64"]
    assert main([*argv, str(tflite)]) == 0
    contract_dir = app / ANDROID_LAYOUT.contract
    entry = json.loads((contract_dir / "contract.json").read_text())["artifacts"][0]
    assert entry["expected_from"] == "ai-edge-litert 1.4.0 on Linux aarch64, emulated (qemu -cpu max)"
    inputs = [np.fromfile(contract_dir / case["input"], dtype="<f4") for case in entry["cases"]]
    logits = np.stack([np.fromfile(contract_dir / case["logits"], dtype="<f4") for case in entry["cases"]])
    shape = entry["input"]["shape"]
    batch = np.stack([x.reshape(shape)[0] for x in inputs])
    if entry["input"]["layout"] == "NHWC":
        batch = batch.transpose(0, 3, 1, 2)
    again = open_runner(app / ANDROID_LAYOUT.models / tflite.name, arch="arm64").run_all(batch)
    np.testing.assert_array_equal(logits, again)  # the stored logits are the ARM64 run's, image by image


@pytest.mark.heavy  # the ExecuTorch part of the ARM64 userland is a 2.5 GB download
def test_contract_vectors_of_a_pte_from_arm64(arm64_userland, converted, tmp_path: Path) -> None:
    (pte,) = app_artifacts(converted, "executorch")
    app = copy_app(ANDROID, tmp_path / "android_demo")
    assert main(["bundle", "--app", "android", "--app-dir", str(app), "--contract-images", "2", "--arch", "arm64", str(pte)]) == 0
    entry = json.loads((app / ANDROID_LAYOUT.contract / "contract.json").read_text())["artifacts"][0]
    assert entry["file"] == pte.name and "on Linux aarch64, emulated (qemu -cpu max,sme=off)" in entry["expected_from"]
    assert check_contract(app / ANDROID_LAYOUT.contract, app / ANDROID_LAYOUT.models) == []
