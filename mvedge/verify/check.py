"""The drift check: run an artifact in its own runtime and compare it with the float model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mvedge.artifact import Sidecar
from mvedge.model.bundle import ModelBundle
from mvedge.progress import Progress
from mvedge.verify.data import as_the_app_feeds
from mvedge.errors import BadInput
from mvedge.model.outputs import OutputsModule, choice_of
from mvedge.verify.metrics import Drift, compare, compare_maps, worst_of
from mvedge.verify.runners import Runner, open_runner


def float_reference(bundle: ModelBundle, images: np.ndarray) -> np.ndarray:
    """The float32 PyTorch model's outputs: the reference every artifact is compared with."""
    with torch.no_grad():
        return np.concatenate([bundle.model(torch.from_numpy(images[i : i + 16])).numpy() for i in range(0, len(images), 16)])


def float_references(bundle: ModelBundle, images: np.ndarray) -> list[np.ndarray]:
    """The float32 PyTorch model's outputs for the bundle's chosen outputs (--outputs), in order."""
    module = OutputsModule(bundle.model, choice_of(bundle)).eval()
    with torch.no_grad():
        parts = [module(torch.from_numpy(images[i : i + 16])) for i in range(0, len(images), 16)]
    return [np.concatenate([part[k].numpy() for part in parts]) for k in range(len(parts[0]))]


PROGRESS_AFTER_S = 5.0
"""A run slower than this (the Core ML interpreter, a big model) reports its progress."""


def verify_artifact(
    path: str | Path,
    bundle: ModelBundle,
    images: np.ndarray,
    labels: np.ndarray | None,
    sidecar: Sidecar | None = None,
    progress: Progress | None = None,
    **runner_options,
) -> Drift:
    """Run the artifact in its own runtime on `images`, fed the way its sidecar's preprocessing
    says, and compare with the float model on the reference preprocessing. `sidecar`: the one in
    hand (the convert pipeline's, not yet written); default: the one next to the artifact. A slow
    run prints a progress line (images done, elapsed) about every tenth of the images."""
    runner = open_runner(path, sidecar=sidecar, **runner_options)
    return check_runner(runner, bundle, images, labels, progress)


def check_runner(runner: Runner, bundle: ModelBundle, images: np.ndarray, labels: np.ndarray | None,
                 progress: Progress | None = None) -> Drift:
    """`verify_artifact` with the runner in hand (its `describe()` then says what ran)."""
    artifact_preprocessing = runner.sidecar.preprocessing if runner.sidecar is not None else None
    feed = as_the_app_feeds(images, bundle.preprocessing.to_dict(), artifact_preprocessing)
    counter = (progress or Progress("verify")).counter(len(feed), "images", after_s=PROGRESS_AFTER_S)
    size, outputs = (len(feed) if runner.whole_set else runner.sidecar_batch), []
    choice = choice_of(bundle)
    if choice.kind == "logits":
        for start in range(0, len(feed), size):
            outputs.append(runner.run_all(feed[start : start + size]))
            counter.add(len(outputs[-1]))
        return compare(float_reference(bundle, images), np.concatenate(outputs, axis=0), labels)
    names = runner.output_names or choice.names
    if names != choice.names:
        raise BadInput(f"{runner.path.name} outputs {', '.join(names)}, not the {', '.join(choice.names)} asked for; check the artifact against the model it came from")
    for start in range(0, len(feed), size):
        outputs.append(runner.run_all_outputs(feed[start : start + size]))
        counter.add(len(outputs[-1][0]))
    got = [np.concatenate([part[k] for part in outputs], axis=0) for k in range(len(names))]
    drifts = {name: compare_maps(ref, out.reshape(ref.shape) if out.size == ref.size else out)
              for name, ref, out in zip(names, float_references(bundle, images), got)}
    return worst_of(drifts) if len(drifts) > 1 else drifts[names[0]]
