"""What a .tflite carries about itself: the TFLite Support metadata that ML Kit, the Task Library
and the LiteRT Support library read, the class names as an associated file, and mvedge's JSON.

- "TFLITE_METADATA" entry of the model's metadata table: a ModelMetadata flatbuffer of TFLite
  Support's metadata_schema.fbs (file identifier "M001"): name, description, version, author,
  license, min_parser_version; the input as an image (ImageProperties: colour space, size;
  NormalizationOptions in pixel units 0..255; stats), the output as features with the class names
  as a TENSOR_AXIS_LABELS associated file. Written here with `flatbuffers` after the public schema
  (the tflite-support package pins an old protobuf).
- LABELS_FILE (one name per line) in an uncompressed zip appended to the flatbuffer, as TFLite
  Support's MetadataPopulator stores associated files; LiteRT ignores bytes after the flatbuffer.
- "mvedge" entry: JSON with what the schema has no field for (model, resize, crop, interpolation,
  the input's layout, mvedge's version); the class names live only in LABELS_FILE.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import TYPE_CHECKING, Any

import numpy as np

from converters.base import ConversionError

if TYPE_CHECKING:
    from flatbuffers import Builder

METADATA_ENTRY = "TFLITE_METADATA"
MVEDGE_ENTRY = "mvedge"
LABELS_FILE = "labels.txt"
FILE_IDENTIFIER = b"M001"
MIN_PARSER_VERSION = "1.0.0"
"""Every field written here is in the schema's first version (1.0.0); later versions added
tokenizers, tensor groups, audio and VOCABULARY files, none of which is used."""

_REPLACED = (METADATA_ENTRY, MVEDGE_ENTRY, "mvedge.labels")  # "mvedge.labels": older artifacts' labels entry
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # a fixed time: the same input gives the same bytes

# metadata_schema.fbs enum values and union type ids
_COLOR_RGB, _COLOR_UNKNOWN = 1, 0
_FEATURE_PROPERTIES, _IMAGE_PROPERTIES = 1, 2  # ContentProperties
_NORMALIZATION_OPTIONS = 1  # ProcessUnitOptions
_TENSOR_AXIS_LABELS = 2  # AssociatedFileType


def with_metadata(model: bytes, description: dict[str, Any]) -> bytes:
    """`model` with the "TFLITE_METADATA" and "mvedge" entries in its metadata table (replacing
    earlier ones) and, when `description` has labels, LABELS_FILE appended as a zip.
    `description` is `embedded_description` plus `input` (name, layout, dtype) and `output` (name),
    or `outputs` (a list of {name, description} by signature output name) for a model with several:
    each graph output then gets its FeatureProperties in graph order, matched through the signature."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    root = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    graph = root.subgraphs[0]
    wanted = description.get("outputs") or [description.get("output") or {}]
    if len(graph.inputs) != 1 or len(graph.outputs) != len(wanted):
        raise ConversionError(f"the .tflite has {len(graph.inputs)} inputs and {len(graph.outputs)} outputs; its metadata describes 1 and {len(wanted)}")
    input_shape = [int(d) for d in graph.tensors[graph.inputs[0]].shape]
    if len(wanted) > 1:  # LiteRT may order graph outputs otherwise than asked: match them by signature name
        by_tensor = {int(o.tensorIndex): _text(o.name) for o in root.signatureDefs[0].outputs} if root.signatureDefs else {}
        by_name = {o["name"]: o for o in wanted}
        try:
            description = {**description, "outputs": [by_name[by_tensor[int(t)]] for t in graph.outputs]}
        except KeyError as exc:
            raise ConversionError(f"the .tflite output {exc} is not one of the signature outputs {sorted(by_name)}") from None
    labels = list(description.get("labels") or [])
    mvedge_json = {k: v for k, v in description.items() if k not in ("labels", "output", "outputs")}
    mvedge_json["labels_file"] = LABELS_FILE if labels else None
    entries = {
        METADATA_ENTRY: model_metadata(description, input_shape),
        MVEDGE_ENTRY: json.dumps(mvedge_json, sort_keys=True).encode(),
    }
    root.metadata = [m for m in (root.metadata or []) if _text(m.name) not in _REPLACED]
    root.buffers = root.buffers or []
    for buffer in root.buffers:  # data stored after the flatbuffer (ai-edge-quantizer writes some): move it inside
        if buffer.offset > 1:
            buffer.data = np.frombuffer(model, dtype=np.uint8, count=buffer.size, offset=buffer.offset)
            buffer.offset = buffer.size = 0
    for name, data in entries.items():  # inside the flatbuffer: metadata readers take the buffer's data
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(data, dtype=np.uint8)
        root.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name, entry.buffer = name, len(root.buffers) - 1
        root.metadata.append(entry)
    builder = flatbuffers.Builder(len(model) + 4096)
    builder.Finish(root.Pack(builder), file_identifier=b"TFL3")
    packed = bytes(builder.Output())
    return append_files(packed, {LABELS_FILE: labels_text(labels)}) if labels else packed


def labels_text(labels: list[str]) -> bytes:
    """The associated labels file: one class name per line, in output order."""
    return ("\n".join(labels) + "\n").encode()


def append_files(model: bytes, files: dict[str, bytes]) -> bytes:
    """`model` with `files` appended as an uncompressed zip whose offsets count from the start of
    the model file (what MetadataPopulator writes and TFLite Support's extractor reads)."""
    out = io.BytesIO(model)
    with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_STORED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()


def model_metadata(description: dict[str, Any], input_shape: list[int]) -> bytes:
    """The ModelMetadata flatbuffer (identifier "M001") for a one-input image model: see the
    module doc. `input_shape` is the input tensor's shape in the layout `description` names."""
    import flatbuffers

    b = flatbuffers.Builder(1024)
    labels = list(description.get("labels") or [])
    subgraph = _table(b, {
        0: _string(b, description["model"]),
        2: _vector(b, [_input_tensor(b, description, input_shape)]),
        3: _vector(b, [_output_tensor(b, output, labels) for output in description.get("outputs") or [description.get("output") or {}]]),
    })
    classes = f"{len(labels)} classes" if labels else "image features"
    root = _table(b, {
        0: _string(b, description["model"]),  # name
        1: _string(b, f"MambaVision image model ({classes}), converted with mvedge"),  # description
        2: _string(b, str(description["mvedge_version"])),  # version
        3: _vector(b, [subgraph]),  # subgraph_metadata
        4: _string(b, "MambaVision architecture by NVIDIA; converted with mvedge"),  # author
        5: _string(b, str(description.get("license") or "unknown")),  # license
        7: _string(b, MIN_PARSER_VERSION),  # min_parser_version
    })
    b.Finish(root, file_identifier=FILE_IDENTIFIER)
    return bytes(b.Output())


def pixel_normalization(preprocessing: dict[str, Any]) -> tuple[list[float], list[float]]:
    """(mean, std) in pixel units 0..255, as NormalizationOptions applies them to 8-bit pixels:
    (pixel - 255 * mean) / (255 * std) is mvedge's (pixel / 255 - mean) / std."""
    return [255.0 * float(m) for m in preprocessing["mean"]], [255.0 * float(s) for s in preprocessing["std"]]


def _input_tensor(b: Builder, description: dict[str, Any], shape: list[int]) -> int:
    """TensorMetadata of the image input: ImageProperties, NormalizationOptions, stats."""
    spec, pre = description["input"], description["preprocessing"]
    nhwc = spec["layout"] == "NHWC"
    channels = shape[3] if nhwc else shape[1]
    height, width = (shape[1], shape[2]) if nhwc else (shape[2], shape[3])
    rgb = channels == 3 and len(pre["mean"]) == 3 and len(pre["std"]) == 3
    dims = ["batch", "height", "width", "channels"] if nhwc else ["batch", "channels", "height", "width"]
    text = (
        f"{width}x{height} {'RGB ' if rgb else ''}image, {spec['layout']}, {spec['dtype']}: resize ({pre['interpolation']}) to "
        f"{pre['resize_size']} ({pre['crop_mode']}), centre-crop {pre['input_size']}, then (pixel - mean) / std per channel"
    )
    fields = {
        0: _string(b, spec["name"]),
        1: _string(b, text),
        2: _vector(b, [b.CreateString(d) for d in dims]),
        3: _content(b, _IMAGE_PROPERTIES, _image_properties(b, _COLOR_RGB if rgb else _COLOR_UNKNOWN, width, height)),
    }
    if rgb:
        mean, std = pixel_normalization(pre)
        options = _table(b, {0: _floats(b, mean), 1: _floats(b, std)})
        fields[4] = _vector(b, [_table(b, {0: ("byte", _NORMALIZATION_OPTIONS), 1: options})])  # process_units
        if spec["dtype"] == "float32":  # the range of normalised pixels; an integer input has its type's
            low, high = [(0.0 - m) / s for m, s in zip(mean, std)], [(255.0 - m) / s for m, s in zip(mean, std)]
        else:
            info = np.iinfo(np.dtype(spec["dtype"]))
            low, high = [float(info.min)], [float(info.max)]
        fields[5] = _table(b, {0: _floats(b, high), 1: _floats(b, low)})  # stats: max, min
    return _table(b, fields)


def _output_tensor(b: Builder, output: dict[str, Any], labels: list[str]) -> int:
    """TensorMetadata of one output: features, and the labels file when the model has class names
    (its logits); `output` may carry its own description (a stage map, the pooled features)."""
    text = output.get("description") or (f"logits over {len(labels)} classes (softmax gives probabilities)" if labels else "image features")
    fields = {0: _string(b, output.get("name") or "logits"), 1: _string(b, text), 3: _content(b, _FEATURE_PROPERTIES, _table(b, {}))}
    if labels:
        label_file = _table(b, {
            0: _string(b, LABELS_FILE),
            1: _string(b, "class names, one per line, in the order of the output"),
            2: ("byte", _TENSOR_AXIS_LABELS),
        })
        fields[6] = _vector(b, [label_file])  # associated_files
    return _table(b, fields)


def _content(b: Builder, kind: int, properties: int) -> int:
    """Content: the content_properties union (type, value)."""
    return _table(b, {0: ("byte", kind), 1: properties})


def _image_properties(b: Builder, color_space: int, width: int, height: int) -> int:
    size = _table(b, {0: ("uint", width), 1: ("uint", height)})
    return _table(b, {0: ("byte", color_space), 1: size})


def _table(b: Builder, fields: dict[int, int | tuple[str, int]]) -> int:
    """A table of `fields` by slot (the field's position in the schema, a union taking two): an
    int is an offset of something built before, ("byte", v) / ("uint", v) a scalar."""
    b.StartObject(max(fields) + 1 if fields else 0)
    for slot, value in sorted(fields.items()):
        if isinstance(value, tuple):
            kind, number = value
            (b.PrependInt8Slot if kind == "byte" else b.PrependUint32Slot)(slot, number, 0)
        else:
            b.PrependUOffsetTRelativeSlot(slot, value, 0)
    return b.EndObject()


def _string(b: Builder, text: str) -> int:
    return b.CreateString(text)


def _vector(b: Builder, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        b.PrependUOffsetTRelative(offset)
    return b.EndVector()


def _floats(b: Builder, values: list[float]) -> int:
    b.StartVector(4, len(values), 4)
    for value in reversed(values):
        b.PrependFloat32(value)
    return b.EndVector()


def _text(name: str | bytes | None) -> str:
    return name.decode() if isinstance(name, bytes) else str(name)
