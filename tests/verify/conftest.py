"""Artifacts of the embedded digits model shared by the drift-check tests (converted once)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from mvedge.model.bundle import ModelBundle, load_bundle
from mvedge.verify.data import verification_set


@pytest.fixture(scope="session")
def digits() -> ModelBundle:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_bundle()


@pytest.fixture(scope="session")
def digit_images(digits: ModelBundle) -> tuple[np.ndarray, np.ndarray]:
    images, labels, _ = verification_set(digits, limit=16)
    return images, labels


@pytest.fixture(scope="session")
def digit_artifacts(digits: ModelBundle, tmp_path_factory: pytest.TempPathFactory):
    """A factory: (target, precision) -> path of that artifact of the embedded model, converted
    without the check the first time it is asked for."""
    from converters.pipeline import convert
    from mvedge.progress import Progress

    out = tmp_path_factory.mktemp("digit-artifacts")
    made: dict[tuple[str, str], Path] = {}

    def get(target: str, precision: str) -> Path:
        if (target, precision) not in made:
            made[target, precision] = convert(digits, target, precision, out, verify=False, progress=Progress(quiet=True)).path
        return made[target, precision]

    return get
