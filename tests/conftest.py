"""Shared test fixtures: paths of the committed golden files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
GOLDENS = FIXTURES / "goldens"


@pytest.fixture(scope="session")
def golden_index() -> dict:
    """index.json of the official-package goldens (scripts/make_goldens.py)."""
    return json.loads((GOLDENS / "index.json").read_text())


@pytest.fixture(scope="session")
def official_keys() -> dict:
    """State-dict keys, shapes and configs of every official variant (scripts/make_official_keys.py)."""
    return json.loads((GOLDENS / "official_keys.json").read_text())["variants"]
