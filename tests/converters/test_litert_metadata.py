"""The TFLite Support metadata inside a converted .tflite (what ML Kit and the Task Library read),
read back with a small flatbuffer reader written here from the format (root offset, vtables),
independent of the builder that wrote it, and the labels file in the zip appended to the model."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

import mvedge
from converters.litert_metadata import model_metadata, with_metadata
from mvedge.artifact import read_sidecar
from mvedge.data.images import normalise
from tests.converters.test_metadata import tflite_metadata


class Table:
    """A flatbuffer table at `pos` of `buf`: fields by slot through its vtable."""

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf, self.pos = buf, pos
        vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        size = struct.unpack_from("<H", buf, vtable)[0]
        self.slots = struct.unpack_from(f"<{(size - 4) // 2}H", buf, vtable + 4)

    def _at(self, slot: int) -> int | None:
        offset = self.slots[slot] if slot < len(self.slots) else 0
        return self.pos + offset if offset else None

    def _target(self, slot: int) -> int | None:
        at = self._at(slot)
        return None if at is None else at + struct.unpack_from("<I", self.buf, at)[0]

    def byte(self, slot: int) -> int:
        at = self._at(slot)
        return 0 if at is None else struct.unpack_from("<b", self.buf, at)[0]

    def uint(self, slot: int) -> int:
        at = self._at(slot)
        return 0 if at is None else struct.unpack_from("<I", self.buf, at)[0]

    def string(self, slot: int) -> str | None:
        at = self._target(slot)
        return None if at is None else _string(self.buf, at)

    def table(self, slot: int) -> Table | None:
        at = self._target(slot)
        return None if at is None else Table(self.buf, at)

    def _elements(self, slot: int) -> list[int]:
        at = self._target(slot)
        count = 0 if at is None else struct.unpack_from("<I", self.buf, at)[0]
        return [at + 4 + 4 * i for i in range(count)]

    def tables(self, slot: int) -> list[Table]:
        return [Table(self.buf, e + struct.unpack_from("<I", self.buf, e)[0]) for e in self._elements(slot)]

    def strings(self, slot: int) -> list[str]:
        return [_string(self.buf, e + struct.unpack_from("<I", self.buf, e)[0]) for e in self._elements(slot)]

    def floats(self, slot: int) -> list[float]:
        return [struct.unpack_from("<f", self.buf, e)[0] for e in self._elements(slot)]


def _string(buf: bytes, at: int) -> str:
    length = struct.unpack_from("<I", buf, at)[0]
    return buf[at + 4 : at + 4 + length].decode()


def read_metadata(buf: bytes) -> Table:
    """The root ModelMetadata table of a metadata flatbuffer."""
    return Table(buf, struct.unpack_from("<I", buf, 0)[0])


# Slots, in metadata_schema.fbs declaration order (a union takes two: its type, then its value).
MODEL = {"name": 0, "description": 1, "version": 2, "subgraphs": 3, "author": 4, "license": 5, "min_parser_version": 7}
SUBGRAPH = {"inputs": 2, "outputs": 3}
TENSOR = {"name": 0, "description": 1, "dimension_names": 2, "content": 3, "process_units": 4, "stats": 5, "associated_files": 6}


def test_the_tflite_carries_tflite_support_metadata(converted, digits) -> None:
    path = converted("digits", "tflite", "fp32")
    sidecar = read_sidecar(path)
    entries = tflite_metadata(path)
    buf = entries["TFLITE_METADATA"]
    assert buf[4:8] == b"M001"
    root = read_metadata(buf)
    assert root.string(MODEL["name"]) == sidecar.model and root.string(MODEL["version"]) == mvedge.__version__
    assert root.string(MODEL["license"]) == sidecar.license and "NVIDIA" in root.string(MODEL["author"])
    assert root.string(MODEL["min_parser_version"]) == "1.0.0" and "10 classes" in root.string(MODEL["description"])
    (subgraph,) = root.tables(MODEL["subgraphs"])
    (image,) = subgraph.tables(SUBGRAPH["inputs"])
    (logits,) = subgraph.tables(SUBGRAPH["outputs"])

    assert image.string(TENSOR["name"]) == sidecar.input.name
    assert image.strings(TENSOR["dimension_names"]) == ["batch", "channels", "height", "width"]  # the model's NCHW layout
    content = image.table(TENSOR["content"])
    assert content.byte(0) == 2  # ContentProperties.ImageProperties
    properties = content.table(1)
    assert properties.byte(0) == 1  # ColorSpaceType.RGB
    assert (properties.table(1).uint(0), properties.table(1).uint(1)) == (128, 128)  # default_size width, height
    (unit,) = image.tables(TENSOR["process_units"])
    assert unit.byte(0) == 1  # ProcessUnitOptions.NormalizationOptions
    mean, std = np.array(unit.table(1).floats(0)), np.array(unit.table(1).floats(1))
    # An app that normalises 8-bit pixels as the metadata says feeds what mvedge's preprocessing gives.
    pixels = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    by_metadata = ((pixels.astype(np.float32) - mean.astype(np.float32)) / std.astype(np.float32)).transpose(2, 0, 1)
    np.testing.assert_allclose(by_metadata, normalise(pixels, digits.preprocessing), atol=1e-5)
    stats = image.table(TENSOR["stats"])
    np.testing.assert_allclose(stats.floats(1), (0 - mean) / std, rtol=1e-6)  # min: a black pixel
    np.testing.assert_allclose(stats.floats(0), (255 - mean) / std, rtol=1e-6)  # max: a white pixel

    assert logits.string(TENSOR["name"]) == sidecar.output.name
    assert logits.table(TENSOR["content"]).byte(0) == 1  # ContentProperties.FeatureProperties
    (labels_file,) = logits.tables(TENSOR["associated_files"])
    assert labels_file.string(0) == "labels.txt" and labels_file.byte(2) == 2  # AssociatedFileType.TENSOR_AXIS_LABELS

    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:  # the associated files, appended to the model
        assert archive.namelist() == ["labels.txt"]
        assert archive.getinfo("labels.txt").compress_type == zipfile.ZIP_STORED  # TFLite Support reads them in place
        assert archive.read("labels.txt").decode().splitlines() == sidecar.labels
    assert "mvedge.labels" not in entries and '"labels"' not in entries["mvedge"].decode()  # the names once, in labels.txt


def _flatbuffer_only(data: bytes) -> bytes:
    """The model without the zip appended to it (up to the zip's first local file header)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return data[: min(info.header_offset for info in archive.infolist())]


def test_the_tflite_with_metadata_loads_and_gives_the_models_outputs(converted, digits) -> None:
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    import torch

    from mvedge.verify.data import verification_set

    data = converted("digits", "tflite", "fp32").read_bytes()
    images = np.ascontiguousarray(verification_set(digits)[0][:4], dtype=np.float32)

    def run(model: bytes) -> np.ndarray:
        interpreter = litert.Interpreter(model_content=model)
        interpreter.allocate_tensors()
        detail, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        results = []
        for image in images:
            interpreter.set_tensor(detail["index"], image[None])
            interpreter.invoke()
            results.append(interpreter.get_tensor(out["index"])[0].copy())
        return np.stack(results)

    with torch.no_grad():
        expected = digits.model(torch.from_numpy(images)).numpy()
    with_files = run(data)
    np.testing.assert_allclose(with_files, expected, atol=1e-4, rtol=1e-4)
    np.testing.assert_array_equal(with_files, run(_flatbuffer_only(data)))


def test_a_features_model_gets_no_labels_file(converted, tmp_path: Path) -> None:
    """Without class names: no associated file, no zip, and the output described as features."""
    model = _flatbuffer_only(converted("digits", "tflite", "fp32").read_bytes())
    description = {
        "mvedge_version": mvedge.__version__, "model": "custom", "license": "unknown", "labels": None,
        "preprocessing": read_sidecar(converted("digits", "tflite", "fp32")).preprocessing,
        "input": {"name": "args_0", "layout": "NCHW", "dtype": "float32"}, "output": {"name": "output_0"},
    }
    out = with_metadata(model, description)
    assert not zipfile.is_zipfile(io.BytesIO(out))
    (tmp_path / "features.tflite").write_bytes(out)
    entries = tflite_metadata(tmp_path / "features.tflite")
    (logits,) = read_metadata(entries["TFLITE_METADATA"]).tables(MODEL["subgraphs"])[0].tables(SUBGRAPH["outputs"])
    assert logits.tables(TENSOR["associated_files"]) == [] and logits.string(TENSOR["description"]) == "image features"


def test_an_int8_nhwc_input_is_described_in_its_own_layout_and_range() -> None:
    description = {
        "mvedge_version": "0", "model": "T", "license": "x", "labels": ["a", "b"],
        "preprocessing": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "input_size": 224, "resize_size": 224,
                          "interpolation": "bicubic", "crop_mode": "center"},
        "input": {"name": "args_0", "layout": "NHWC", "dtype": "int8"}, "output": {"name": "output_0"},
    }
    (subgraph,) = read_metadata(model_metadata(description, [1, 224, 224, 3])).tables(MODEL["subgraphs"])
    (image,) = subgraph.tables(SUBGRAPH["inputs"])
    assert image.strings(TENSOR["dimension_names"]) == ["batch", "height", "width", "channels"]
    np.testing.assert_allclose(image.tables(TENSOR["process_units"])[0].table(1).floats(0), [123.675, 116.28, 103.53], rtol=1e-6)
    stats = image.table(TENSOR["stats"])
    assert (stats.floats(1), stats.floats(0)) == ([-128.0], [127.0])  # an int8 tensor's values

