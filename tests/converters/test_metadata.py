"""Preprocessing, labels, version and license inside the artifacts themselves (not only in the
sidecar): read back from the written TFLite and ONNX files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mvedge
from mvedge.artifact import read_sidecar


def tflite_metadata(path: Path) -> dict[str, bytes]:
    """The entries of a .tflite's metadata table, name -> the bytes of its buffer."""
    from ai_edge_litert import schema_py_generated as schema

    data = path.read_bytes()
    model = schema.Model.GetRootAsModel(data, 0)
    entries = {}
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        buffer = model.Buffers(entry.Buffer())
        if buffer.Offset():  # stored after the flatbuffer (large models)
            entries[entry.Name().decode()] = data[buffer.Offset() : buffer.Offset() + buffer.Size()]
        else:
            entries[entry.Name().decode()] = buffer.DataAsNumpy().tobytes()
    return entries


def test_tflite_embeds_preprocessing_labels_version_and_license(converted) -> None:
    path = converted("digits", "tflite", "fp32")
    sidecar = read_sidecar(path)
    entries = tflite_metadata(path)
    info = json.loads(entries["mvedge"])
    assert info["preprocessing"] == sidecar.preprocessing and info["labels"] == sidecar.labels
    assert info["mvedge_version"] == mvedge.__version__ and info["license"] == sidecar.license
    assert info["input"] == {"name": sidecar.input.name, "layout": "NCHW", "dtype": "float32"}
    assert entries["mvedge.labels"].decode().splitlines() == sidecar.labels


def test_the_tflite_with_metadata_still_runs(converted) -> None:
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    import numpy as np

    interpreter = litert.Interpreter(model_path=str(converted("digits", "tflite", "fp32")))
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], dtype=np.float32))
    interpreter.invoke()
    assert interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).shape == (1, 10)


def test_onnx_embeds_preprocessing_labels_version_and_license(converted) -> None:
    onnx = pytest.importorskip("onnx")
    path = converted("digits", "onnx", "fp32")
    sidecar = read_sidecar(path)
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(props["mvedge.preprocessing"]) == sidecar.preprocessing
    assert json.loads(props["mvedge.labels"]) == sidecar.labels
    assert props["mvedge.version"] == mvedge.__version__ and props["mvedge.license"] == sidecar.license
    assert props["mvedge.model"] == sidecar.model
