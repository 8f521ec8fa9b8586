"""Preprocessing, labels, version and license inside the artifacts themselves (not only in the
sidecar): read back from the written TFLite and ONNX files."""

from __future__ import annotations

import dataclasses
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
    assert info["preprocessing"] == sidecar.preprocessing and info["labels_file"] == "labels.txt"  # the names: test_litert_metadata
    assert info["mvedge_version"] == mvedge.__version__ and info["license"] == sidecar.license
    assert info["input"] == {"name": sidecar.input.name, "layout": "NCHW", "dtype": "float32"}


def test_onnx_embeds_preprocessing_labels_version_and_license(converted) -> None:
    onnx = pytest.importorskip("onnx")
    path = converted("digits", "onnx", "fp32")
    sidecar = read_sidecar(path)
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(props["mvedge.preprocessing"]) == sidecar.preprocessing
    assert json.loads(props["mvedge.labels"]) == sidecar.labels
    assert props["mvedge.version"] == mvedge.__version__ and props["mvedge.license"] == sidecar.license
    assert props["mvedge.model"] == sidecar.model


def test_an_official_variants_core_ml_model_is_an_imagenet_classifier(tmp_path: Path) -> None:
    """An official variant (a tiny stand-in with MambaVision-T's 1000-class head, named T as
    variant detection names it) gets the ImageNet-1K names, so its Core ML model has classLabel."""
    ct = pytest.importorskip("coremltools")
    from converters.pipeline import convert
    from mvedge.model.bundle import ModelBundle, load_bundle
    from mvedge.model.configs import test_config
    from mvedge.model.labels import imagenet1k_labels
    from mvedge.model.mambavision import build
    from mvedge.model.preprocessing import preprocessing
    from mvedge.progress import Progress

    model = build(**{**test_config("tiny"), "num_classes": 1000}).eval()
    pre = dataclasses.replace(preprocessing("T"), input_size=64)
    bundle = ModelBundle(model, "T", dict(model.config), pre, load_bundle(variant="T", image_size=32).labels, "random")
    assert bundle.labels == imagenet1k_labels()
    artifact = convert(bundle, "coreml", "fp16", tmp_path, verify=False, progress=Progress(quiet=True))
    spec = ct.models.MLModel(str(artifact.path), skip_model_load=True).get_spec()
    assert spec.description.predictedFeatureName == "classLabel"
    assert read_sidecar(artifact.path).labels[281] == "tabby"
