"""The contract's tolerances per target and precision, read from tolerances.json: measured on ARM64
kernels (emulated) against x86 times a safety factor, or a documented floor where the emulation
cannot stand for the device (benchmarks/arm64_tolerances.py writes the file)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

PATH = Path(__file__).with_name("tolerances.json")
SCHEMA = "mvedge.tolerances/1"
KEYS = ("input_abs", "logits_abs", "score_abs")


@functools.cache
def table() -> dict[str, Any]:
    """The packaged tolerances.json, its schema checked."""
    document = json.loads(PATH.read_text())
    if document.get("schema") != SCHEMA:
        raise RuntimeError(f"{PATH.name} has schema {document.get('schema')!r}, expected {SCHEMA!r}")
    return document


def _entries(target: str | None, precision: str) -> list[dict[str, Any]]:
    entries = table()["tolerances"]
    exact = [e for e in entries if e["target"] == target and e["precision"] == precision]
    return exact or [e for e in entries if e["precision"] == precision] or entries


def tolerance_for(precision: str | None, target: str | None = None) -> dict[str, float]:
    """input_abs, logits_abs and score_abs for an artifact; a pair not in the file gets the widest
    bound of its precision's entries (of all entries for an unknown precision)."""
    entries = _entries(target, precision or "fp32")
    return {key: max(float(e[key]) for e in entries) for key in KEYS}


def basis_for(precision: str | None, target: str | None = None) -> str:
    """One line saying where the tolerance of an artifact comes from (written into contract.json)."""
    entries = _entries(target, precision or "fp32")
    if len(entries) != 1:
        return "the widest tolerance of the entries that may apply (no entry for this target and precision)"
    entry, document = entries[0], table()
    measured = (f"{document['safety_factor']:g} x (the largest difference of the {document['measured']}, "
                f"plus the outputs' change for an input moved by input_abs), from {document['command']} ({document['date']})")
    if entry["basis"] == "measured":
        return f"measured: {measured}"
    if entry["basis"].startswith("measured"):
        return f"a floor, at least the measured {measured}; the floor because it was {entry['not_measured']}"
    return f"a floor, not measured: {entry['not_measured']}"
