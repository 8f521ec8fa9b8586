"""mvedge.artifact: the type table, sha256 and size, and the sidecar's strict write and read."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from mvedge.artifact import (
    ARTIFACT_TYPES,
    SCHEMA,
    Sidecar,
    checked_artifact,
    read_sidecar,
    runtime_of,
    sha256_of,
    sidecar_path,
    size_of,
    target_of,
    write_sidecar,
)
from mvedge.errors import BadInput
from mvedge.verify.metrics import compare
from tests.sidecars import make_sidecar


def _strict_loads(text: str):
    """json.loads that refuses NaN/Infinity literals, as strict parsers (iOS JSONSerialization) do."""

    def refuse(name: str):
        raise ValueError(f"non-JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(
    "name, target, runtime",
    [
        ("m.onnx", "onnx", "onnxruntime"),
        ("m.pte", "executorch", "executorch"),
        ("m.tflite", "tflite", "litert"),
        ("m.mlpackage", "coreml", "coreml"),
        ("m.mlmodelc", "coreml", "coreml"),
    ],
)
def test_type_table(name: str, target: str, runtime: str) -> None:
    assert target_of(name) == target and runtime_of(name) == runtime


def test_table_has_one_row_per_suffix() -> None:
    suffixes = [t.suffix for t in ARTIFACT_TYPES]
    assert len(suffixes) == len(set(suffixes))


def test_unknown_type_and_missing_file_are_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"unknown artifact type '\.txt'.*expected one of \.onnx"):
        target_of(tmp_path / "notes.txt")
    with pytest.raises(BadInput, match="does not exist"):
        checked_artifact(tmp_path / "missing.onnx")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(BadInput, match="unknown artifact type"):
        checked_artifact(tmp_path / "notes.txt")


def test_sha256_and_size_of_a_file_and_a_folder(tmp_path: Path) -> None:
    """Known values: the hashes sidecars, index.json and contract.json have always held."""
    file = tmp_path / "model.onnx"
    file.write_bytes(b"mvedge")
    package = tmp_path / "model.mlpackage"
    (package / "sub").mkdir(parents=True)
    (package / "a.bin").write_bytes(b"1")
    (package / "sub" / "b.bin").write_bytes(b"22")
    assert sha256_of(file) == "6ccbbb0a471f57381a4fb55a41adf743479432bdbeedf28b39f3fdfbf4ecf4b5"
    # relative path then contents, in sorted path order: sha256(b"a.bin1sub/b.bin22")
    assert sha256_of(package) == "6390d6ad53374df03a515a5fb91c57e941e6c25a2134c511e6803746f65df343"
    assert size_of(file) == 6 and size_of(package) == 3


def test_sidecar_path_is_next_to_the_artifact(tmp_path: Path) -> None:
    assert sidecar_path(tmp_path / "m.mlpackage") == tmp_path / "m.mlpackage.json"


def test_non_finite_drift_is_written_as_strict_json_and_read_back(tmp_path: Path) -> None:
    logits = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    identical = compare(logits, logits).to_dict()  # identical outputs: PSNR is +inf
    assert identical["psnr_db"] == math.inf
    artifact = tmp_path / "m.onnx"
    artifact.write_bytes(b"x")
    write_sidecar(artifact, make_sidecar(drift={**identical, "cosine": math.nan, "max_abs": -math.inf}))
    text = sidecar_path(artifact).read_text()
    data = _strict_loads(text)
    assert data["drift"]["psnr_db"] == "Infinity" and data["drift"]["cosine"] == "NaN" and data["drift"]["max_abs"] == "-Infinity"
    assert data["schema"] == SCHEMA
    back = read_sidecar(artifact)
    assert back.drift["psnr_db"] == math.inf and math.isnan(back.drift["cosine"]) and back.drift["max_abs"] == -math.inf


def test_the_drift_of_each_output_is_read_back_as_numbers(tmp_path: Path) -> None:
    maps = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    identical = compare(maps, maps).to_dict()
    artifact = tmp_path / "m.onnx"
    artifact.write_bytes(b"x")
    write_sidecar(artifact, make_sidecar(drift={**identical, "outputs": {"stage1": identical, "stage2": {**identical, "cosine": math.nan}}}))
    assert _strict_loads(sidecar_path(artifact).read_text())["drift"]["outputs"]["stage1"]["psnr_db"] == "Infinity"
    back = read_sidecar(artifact).drift["outputs"]
    assert back["stage1"]["psnr_db"] == math.inf and back["stage2"]["psnr_db"] == math.inf and math.isnan(back["stage2"]["cosine"])


def test_a_failed_write_leaves_nothing_partial(tmp_path: Path) -> None:
    artifact = tmp_path / "m.onnx"
    artifact.write_bytes(b"x")
    write_sidecar(artifact, make_sidecar())
    before = sidecar_path(artifact).read_text()
    with pytest.raises(TypeError):
        write_sidecar(artifact, make_sidecar(conversion={"report": object()}))  # not serialisable
    assert sidecar_path(artifact).read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.onnx.json"]
    fresh = tmp_path / "fresh.onnx"
    with pytest.raises(TypeError):
        write_sidecar(fresh, make_sidecar(conversion={"report": object()}))
    assert not sidecar_path(fresh).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.onnx.json"]


def test_a_missing_sidecar_is_bad_input_unless_optional(tmp_path: Path) -> None:
    artifact = tmp_path / "bare.tflite"
    artifact.write_bytes(b"x")
    with pytest.raises(BadInput, match=r"bare\.tflite has no sidecar .*bare\.tflite\.json.*re-run mvedge convert"):
        read_sidecar(artifact)
    assert read_sidecar(artifact, required=False) is None


def _written(tmp_path: Path, edit) -> Path:
    artifact = tmp_path / "m.tflite"
    artifact.write_bytes(b"x")
    data = make_sidecar(target="tflite").to_dict()
    edit(data)
    sidecar_path(artifact).write_text(json.dumps(data))
    return artifact


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda d: d.pop("input"), "'input' is missing"),
        (lambda d: d.pop("preprocessing"), "'preprocessing' is missing"),
        (lambda d: d["input"].pop("layout"), "'input.layout' is missing"),
        (lambda d: d["input"].update(layout="CHWN"), "'input.layout' must be NCHW or NHWC"),
        (lambda d: d["input"].update(shape=[1, "3", 8, 8]), "'input.shape' must be a list of integers"),
        (lambda d: d.update(labels=3), "'labels' must be a list"),
        (lambda d: d.update(target="tensorrt"), "'target' must be one of"),
        (lambda d: d.update(drift={"psnr_db": "loud"}), "'drift.psnr_db' must be a number"),
        (lambda d: d.update(size_bytes=True), "'size_bytes' must be an integer"),
        (lambda d: d.pop("sha256"), "'sha256' is missing"),
    ],
)
def test_a_missing_or_malformed_field_is_named(tmp_path: Path, edit, field: str) -> None:
    artifact = _written(tmp_path, edit)
    with pytest.raises(BadInput, match=rf"m\.tflite\.json: field {field}.*re-run mvedge convert"):
        read_sidecar(artifact)
    with pytest.raises(BadInput):
        read_sidecar(artifact, required=False)  # optional means "may be absent", not "may be broken"


def test_unreadable_json_and_another_schema_are_bad_input(tmp_path: Path) -> None:
    artifact = _written(tmp_path, lambda d: d.update(schema="mvedge.sidecar/9"))
    with pytest.raises(BadInput, match="schema 'mvedge.sidecar/9' is not 'mvedge.sidecar/1'"):
        read_sidecar(artifact)
    sidecar_path(artifact).write_text("{not json")
    with pytest.raises(BadInput, match="is not readable JSON"):
        read_sidecar(artifact)


def test_sidecars_written_before_the_schema_field_are_read(tmp_path: Path) -> None:
    """Same keys, no "schema", NaN/Infinity literals: what earlier mvedge versions wrote."""
    artifact = _written(tmp_path, lambda d: (d.pop("schema"), d.update(drift={"psnr_db": math.inf, "cosine": 1.0})))
    assert "Infinity" in sidecar_path(artifact).read_text()
    sidecar = read_sidecar(artifact)
    assert sidecar.schema == SCHEMA and sidecar.drift["psnr_db"] == math.inf


def test_unknown_keys_are_kept(tmp_path: Path) -> None:
    artifact = _written(tmp_path, lambda d: d.update(calibration_note="from a newer mvedge"))
    assert read_sidecar(artifact).to_dict()["calibration_note"] == "from a newer mvedge"


def test_input_shape_in_either_layout() -> None:
    assert make_sidecar(shape=(2, 3, 16, 24)).input_shape() == (2, 3, 16, 24)
    assert make_sidecar(shape=(1, 16, 24, 3), layout="NHWC").input_shape() == (1, 3, 16, 24)
    assert make_sidecar(shape=(1, 3, 16)).input_shape() is None


def test_a_converted_sidecar_round_trips_and_is_strict_json(small_bundle, tmp_path: Path, monkeypatch) -> None:
    """The real pipeline, with drift as the metrics give it for identical outputs (PSNR +inf)."""
    pytest.importorskip("onnxruntime")
    import converters.pipeline as pipeline
    from mvedge.progress import Progress

    def identical(path, bundle, images, labels, **kwargs):
        outputs = np.random.default_rng(0).standard_normal((len(images), 10))
        return compare(outputs, outputs, labels)

    monkeypatch.setattr(pipeline, "verify_artifact", identical)
    artifact = pipeline.convert(small_bundle, "onnx", "fp32", tmp_path, progress=Progress(quiet=True))
    data = _strict_loads(sidecar_path(artifact.path).read_text())  # no NaN/Infinity literal on disk
    assert data["drift"]["psnr_db"] == "Infinity" and data["verification"] == "verified"
    sidecar = read_sidecar(artifact.path)
    assert isinstance(sidecar, Sidecar) and sidecar.drift["psnr_db"] == math.inf
    assert _strict_loads(sidecar.to_json()) == data == _strict_loads(artifact.sidecar.to_json())
    assert sidecar.sha256 == sha256_of(artifact.path) and sidecar.size_bytes == size_of(artifact.path)


def test_the_data_domain_is_recorded_and_derived_for_older_sidecars(tmp_path: Path) -> None:
    """The domain picks contract images and app samples: a QAT-tuned digits model is "digits"
    although its source is a checkpoint path; sidecars without the field derive it from the source."""
    assert read_sidecar(_written(tmp_path, lambda d: d.update(source="tuned.safetensors", domain="digits"))).domain == "digits"
    assert read_sidecar(_written(tmp_path, lambda d: (d.pop("domain"), d.update(source="embedded")))).domain == "digits"
    assert read_sidecar(_written(tmp_path, lambda d: (d.pop("domain"), d.update(source="random")))).domain == "photos"
    with pytest.raises(BadInput, match="domain"):
        read_sidecar(_written(tmp_path, lambda d: d.update(domain="faces")))


def test_the_pipeline_writes_the_bundles_domain(small_bundle, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    import converters.pipeline as pipeline
    from mvedge.progress import Progress

    small_bundle.domain = "digits"
    artifact = pipeline.convert(small_bundle, "onnx", "fp32", tmp_path, verify=False, progress=Progress(quiet=True))
    assert read_sidecar(artifact.path).domain == "digits"


def test_the_new_fields_round_trip_and_older_sidecars_read_with_defaults(tmp_path: Path) -> None:
    """Output name and dtype, dynamic batch, image color layout, license and source hash: written,
    read back, and absent from sidecars written before them (read as unknown / fixed batch)."""
    sidecar = make_sidecar(target="coreml", dtype="image", license="NVIDIA Source Code License-NC", source_sha256="a" * 64)
    sidecar.input.color_layout = "RGB"
    sidecar.output.name, sidecar.output.dtype = "logits", "float16"
    artifact = tmp_path / "m.mlpackage"
    write_sidecar(artifact, sidecar)
    data = json.loads(sidecar_path(artifact).read_text())
    assert data["license"] == "NVIDIA Source Code License-NC" and data["source_sha256"] == "a" * 64
    assert data["input"]["color_layout"] == "RGB" and data["input"]["dynamic_batch"] is False
    assert data["output"] == {"name": "logits", "shape": [1, 5], "dtype": "float16", "dynamic_batch": False, "quantization": None}
    again = read_sidecar(artifact)
    assert again.to_dict() == data
    old = _written(tmp_path, lambda d: (d.pop("license"), d.pop("source_sha256"), [d["input"].pop(k) for k in ("dynamic_batch", "color_layout")],
                                         [d["output"].pop(k) for k in ("name", "dtype", "dynamic_batch")]))
    read = read_sidecar(old)
    assert read.license is None and read.source_sha256 is None and read.input.dynamic_batch is False
    assert read.output.name is None and read.output.dtype is None and read.input.color_layout is None
    with pytest.raises(BadInput, match="dynamic_batch"):
        read_sidecar(_written(tmp_path, lambda d: d["input"].update(dynamic_batch="yes")))
