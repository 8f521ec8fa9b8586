"""Fixtures of the drift-check tests: held-out digits of the embedded model, and its artifacts from
the session cache (tests/conftest.py `converted`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mvedge.model.bundle import ModelBundle
from mvedge.verify.data import verification_set


@pytest.fixture(scope="session")
def digit_images(digits: ModelBundle) -> tuple[np.ndarray, np.ndarray]:
    images, labels, _ = verification_set(digits, limit=16)
    return images, labels


@pytest.fixture(scope="session")
def digit_artifacts(converted) -> Callable[[str, str], Path]:
    """(target, precision) -> path of that artifact of the embedded model (default options)."""
    return lambda target, precision: converted("digits", target, precision)
