"""The quantization tests' tiny model: the "tiny" test config (every block kind, a 16-token scan in
4 chunks so the carry is used, ~100K parameters) with non-trivial batch-norm statistics. The digits
image folder, the tiny checkpoint and the embedded model come from tests/conftest.py."""

from __future__ import annotations

import torch

from mvedge.model.configs import test_config
from mvedge.verify.reference import seeded_model

TINY = test_config("tiny")


def tiny_model(seed: int = 0) -> torch.nn.Module:
    """The tiny MambaVision with non-trivial batch-norm statistics, in eval mode."""
    return seeded_model(TINY, seed)
