"""Fixtures for the quantization tests: a tiny MambaVision (saved with its config), image folders
of real digits (class subfolders), and the embedded digits model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mvedge.model.bundle import ModelBundle, load_bundle
from mvedge.model.checkpoints import save_checkpoint
from mvedge.verify.reference import seeded_model

TINY = dict(
    image_size=64, dim=8, in_dim=8, depths=[1, 1, 2, 2], num_heads=[1, 1, 2, 2], window_size=[8, 8, 4, 2], num_classes=10, scan_chunk_size=4
)
"""Every block kind (conv, Mamba, attention), a 16-token scan in 4 chunks (the carry is used), ~100K parameters."""


def tiny_model(seed: int = 0) -> torch.nn.Module:
    """The tiny MambaVision with non-trivial batch-norm statistics, in eval mode."""
    return seeded_model(TINY, seed)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model as .safetensors with its config (what `--weights` takes)."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.safetensors"
    save_checkpoint(tiny_model(), path)
    return path


@pytest.fixture(scope="session")
def embedded() -> ModelBundle:
    return load_bundle()


def write_digits(root: Path, count: int, split: str = "train", by_class: bool = True) -> Path:
    """`count` real digits from a split as PNG files, in class subfolders named after the digit."""
    from mvedge.data.digits import digits_split

    pictures, labels = digits_split(split)
    step = max(1, len(pictures) // count)
    for index in range(0, step * count, step):
        folder = root / str(int(labels[index])) if by_class else root
        folder.mkdir(parents=True, exist_ok=True)
        pictures[index].save(folder / f"{index:04d}.png")
    return root


@pytest.fixture(scope="session")
def digits_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 training digits in class subfolders 0..9."""
    return write_digits(tmp_path_factory.mktemp("digits"), 64)
