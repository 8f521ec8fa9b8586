"""mvedge.strict_json: what users and apps receive is JSON that strict parsers accept."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from mvedge import strict_json

REPO = Path(__file__).resolve().parents[1]


def _strict_loads(text: str):
    def refuse(name: str):
        raise ValueError(f"non-JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_floats_become_strings_and_come_back() -> None:
    value = {"psnr_db": math.inf, "rows": [math.nan, -math.inf, 1.5, np.float64("inf")], "name": "NaN-free", "n": None}
    text = strict_json.dumps(value)
    assert _strict_loads(text) == {"psnr_db": "Infinity", "rows": ["NaN", "-Infinity", 1.5, "Infinity"], "name": "NaN-free", "n": None}
    back = strict_json.loads(text)
    assert back["psnr_db"] == math.inf and math.isnan(back["rows"][0]) and back["rows"][1:] == [-math.inf, 1.5, math.inf]
    assert strict_json.decode_float("-Infinity") == -math.inf and strict_json.decode_float(None) is None
    with pytest.raises(ValueError):
        strict_json.decode_float("loud")


def test_write_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    strict_json.write_atomic(path, {"a": 1})
    with pytest.raises(TypeError):
        strict_json.write_atomic(path, {"a": object()})
    assert path.read_text() == '{\n "a": 1\n}\n' and [p.name for p in tmp_path.iterdir()] == ["report.json"]


@pytest.mark.parametrize("path", sorted((REPO / "benchmarks" / "results").glob("*.json")), ids=lambda p: p.name)
def test_committed_benchmark_results_are_strict_json(path: Path) -> None:
    _strict_loads(path.read_text())
