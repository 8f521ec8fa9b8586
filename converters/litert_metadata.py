"""Entries in a .tflite's metadata table: the model, its preprocessing, labels and license as
JSON ("mvedge") and the labels as a text file, one name per line ("mvedge.labels").

These are plain entries of the TFLite Model's `metadata` table, which any flatbuffer reader can
list; they are not the TFLite Support "TFLITE_METADATA" schema (ImageProperties,
NormalizationOptions, associated files) that ML Kit and the Task Library parse."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

MVEDGE_ENTRY = "mvedge"
LABELS_ENTRY = "mvedge.labels"


def with_metadata(model: bytes, description: dict[str, Any]) -> bytes:
    """`model` with the "mvedge" JSON entry and, when there are labels, the "mvedge.labels" text
    entry added to its metadata table (replacing earlier ones of the same names)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    root = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    entries = {MVEDGE_ENTRY: json.dumps(description, sort_keys=True).encode()}
    if description.get("labels"):
        entries[LABELS_ENTRY] = ("\n".join(description["labels"]) + "\n").encode()
    root.metadata = [m for m in (root.metadata or []) if _text(m.name) not in entries]
    root.buffers = root.buffers or []
    for buffer in root.buffers:  # data stored after the flatbuffer (ai-edge-quantizer writes some): move it inside
        if buffer.offset > 1:
            buffer.data = np.frombuffer(model, dtype=np.uint8, count=buffer.size, offset=buffer.offset)
            buffer.offset = buffer.size = 0
    for name, data in entries.items():
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(data, dtype=np.uint8)
        root.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name, entry.buffer = name, len(root.buffers) - 1
        root.metadata.append(entry)
    builder = flatbuffers.Builder(len(model) + 4096)
    builder.Finish(root.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _text(name: str | bytes | None) -> str:
    return name.decode() if isinstance(name, bytes) else str(name)
