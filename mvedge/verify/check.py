"""The drift check: run an artifact in its own runtime and compare it with the float model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mvedge.artifact import Sidecar
from mvedge.model.bundle import ModelBundle
from mvedge.verify.data import as_the_app_feeds
from mvedge.verify.metrics import Drift, compare
from mvedge.verify.runners import open_runner


def float_reference(bundle: ModelBundle, images: np.ndarray) -> np.ndarray:
    """The float32 PyTorch model's outputs: the reference every artifact is compared with."""
    with torch.no_grad():
        return np.concatenate([bundle.model(torch.from_numpy(images[i : i + 16])).numpy() for i in range(0, len(images), 16)])


def verify_artifact(
    path: str | Path, bundle: ModelBundle, images: np.ndarray, labels: np.ndarray | None, sidecar: Sidecar | None = None, **runner_options
) -> Drift:
    """Run the artifact in its own runtime on `images`, fed the way its sidecar's preprocessing
    says, and compare with the float model on the reference preprocessing. `sidecar`: the one in
    hand (the convert pipeline's, not yet written); default: the one next to the artifact."""
    runner = open_runner(path, sidecar=sidecar, **runner_options)
    artifact_preprocessing = runner.sidecar.preprocessing if runner.sidecar is not None else None
    feed = as_the_app_feeds(images, bundle.preprocessing.to_dict(), artifact_preprocessing)
    return compare(float_reference(bundle, images), runner.run_all(feed), labels)
