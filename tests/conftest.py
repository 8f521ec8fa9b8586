"""Shared test fixtures: paths of the committed golden files, and a small MambaVision checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mvedge.model.bundle import ModelBundle, load_bundle
from mvedge.model.checkpoints import save_checkpoint
from mvedge.verify.reference import SMALL, seeded_model

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


@pytest.fixture(scope="session")
def small_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small random MambaVision (every block type) with non-trivial BN statistics, as .safetensors with its config."""
    model = seeded_model(SMALL)
    path = tmp_path_factory.mktemp("ckpt") / "small.safetensors"
    save_checkpoint(model, path)
    return path


@pytest.fixture
def small_bundle(small_checkpoint: Path) -> ModelBundle:
    return load_bundle(str(small_checkpoint))
