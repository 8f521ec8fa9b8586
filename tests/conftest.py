"""Shared test fixtures: paths of the committed golden files, and a small MambaVision checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import mvedge
from mvedge.model.bundle import ModelBundle, load_bundle
from mvedge.model.checkpoints import save_checkpoint

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


SMALL = dict(dim=16, in_dim=16, depths=[1, 1, 2, 2], num_heads=[1, 2, 4, 4], window_size=[8, 8, 4, 2], num_classes=10, image_size=64, scan_chunk_size=8)


@pytest.fixture(scope="session")
def small_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small random MambaVision with non-trivial BN statistics, as .safetensors with its config."""
    torch.manual_seed(0)
    model = mvedge.build(**SMALL).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("ckpt") / "small.safetensors"
    save_checkpoint(model, path)
    return path


@pytest.fixture
def small_bundle(small_checkpoint: Path) -> ModelBundle:
    return load_bundle(str(small_checkpoint))
