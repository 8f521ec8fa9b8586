"""Strict JSON out of mvedge: every file or --json report a user or app receives goes through here.

Python's json writes NaN and Infinity by default, which is not JSON: strict parsers (the iOS app's
JSONSerialization, JavaScript's JSON.parse, Kotlin's org.json for some shapes) reject the document.
Here a non-finite float is written as the string "NaN", "Infinity" or "-Infinity" (the rule
Protocol Buffers' JSON mapping uses), so no value is lost and the output parses everywhere;
`decode_float` reads such a value back.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from mvedge.atomic import atomic_file

NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _encode_float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def encode_non_finite(value: Any) -> Any:
    """`value` with every non-finite float (also inside dicts, lists, tuples) replaced by its string."""
    if isinstance(value, float):
        return _encode_float(value)
    if isinstance(value, dict):
        return {key: encode_non_finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_non_finite(item) for item in value]
    return value


def decode_float(value: Any) -> float | None:
    """A number as written by `dumps`: a JSON number, null (None) or "NaN"/"Infinity"/"-Infinity".
    ValueError for anything else."""
    if value is None:
        return None
    if isinstance(value, str) and value in NON_FINITE:
        return NON_FINITE[value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def loads(text: str) -> Any:
    """Parse JSON written by `dumps`, turning every "NaN"/"Infinity"/"-Infinity" string back into a
    float: for documents that never hold those words as text, such as benchmark results."""

    def decode(value: Any) -> Any:
        if isinstance(value, str):
            return NON_FINITE.get(value, value)
        if isinstance(value, dict):
            return {key: decode(item) for key, item in value.items()}
        if isinstance(value, list):
            return [decode(item) for item in value]
        return value

    return decode(json.loads(text))


def dumps(value: Any, indent: int | None = 1) -> str:
    """Strict JSON text of `value` (non-finite floats as strings; never NaN/Infinity literals)."""
    return json.dumps(encode_non_finite(value), indent=indent, allow_nan=False)


def write_atomic(path: str | Path, value: Any, indent: int | None = 1, newline: bool = True) -> Path:
    """Write `value` as strict JSON to `path` through a temporary file beside it and a rename, so
    a reader never sees a partial file and a failed serialisation leaves `path` as it was."""
    text = dumps(value, indent) + ("\n" if newline else "")  # serialise first: a failure writes nothing
    with atomic_file(path) as tmp:
        tmp.write_text(text)
    return Path(path)
