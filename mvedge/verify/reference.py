"""Stored float references: inputs, float32 outputs and the environment that computed them.

`scripts/make_float_reference.py` writes them (on a CUDA GPU with TF32 off when one is at hand,
else on the CPU, and the environment file says which); tests compare the CPU float model and
every artifact with them. Inputs are stored as the 8-bit pixels they came from, so they are
exact and small; `inputs()` normalises them the way `mvedge.data.images.preprocess` does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import mvedge
from mvedge.data.images import denormalise
from mvedge.data.images import normalise as normalise_pixels
from mvedge.model.bundle import ModelBundle, load_bundle
from mvedge.model.checkpoints import save_checkpoint
from mvedge.model.configs import test_config
from mvedge.model.preprocessing import Preprocessing

SEED = 0

# MambaVision-T's shape (depths, heads, windows, 224 px) at a small width, for tests at T's structure.
T_SHAPED = test_config("t-shaped")

# A small model with every block type, for converter and runner tests (64 px, 10 classes).
SMALL = test_config("small")


def seeded_model(config: dict, seed: int = SEED) -> torch.nn.Module:
    """A model built from `config` with seeded random weights and non-trivial BatchNorm
    statistics (fresh ones are mean 0 / variance 1, which hides normalisation mistakes)."""
    torch.manual_seed(seed)
    model = mvedge.build(**config).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return model


def t_shaped_bundle(directory: str | Path) -> ModelBundle:
    """The seeded T-shaped model, saved under `directory` and loaded back as a bundle with the T
    preprocessing."""
    model = seeded_model(T_SHAPED)
    path = Path(directory) / "t-shaped.safetensors"
    save_checkpoint(model, path)
    return load_bundle(str(path))


def pixels_of(images: np.ndarray, mean, std) -> np.ndarray:
    """Preprocessed (N, 3, S, S) float32 images back to their 8-bit pixels (N, S, S, 3)."""
    values = denormalise(images, Preprocessing(mean=tuple(mean), std=tuple(std))) * 255.0
    return np.clip(np.rint(values), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def normalise(pixels: np.ndarray, mean, std) -> np.ndarray:
    """8-bit pixels (N, S, S, 3) to the model input (N, 3, S, S), float32 as preprocess() computes it."""
    return normalise_pixels(pixels, Preprocessing(mean=tuple(mean), std=tuple(std)))


@dataclass
class FloatReference:
    """One model's stored reference."""

    name: str
    pixels: np.ndarray
    outputs: np.ndarray
    labels: np.ndarray | None
    environment: dict

    def inputs(self) -> np.ndarray:
        """The model inputs the outputs were computed from."""
        pre = self.environment["preprocessing"]
        return normalise(self.pixels, pre["mean"], pre["std"])


def load_reference(name: str, directory: str | Path) -> FloatReference:
    """The stored reference `name` ('digits' or 't-shaped') from `directory`."""
    directory = Path(directory)
    arrays = np.load(directory / f"{name}.npz")
    environment = json.loads((directory / f"{name}.json").read_text())
    labels = arrays["labels"] if "labels" in arrays.files else None
    return FloatReference(name, arrays["pixels"], arrays["outputs"], labels, environment)
