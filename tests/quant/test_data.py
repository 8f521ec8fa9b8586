"""Image folders for QAT (no torchvision): labels from class subfolders, limits, sharding, and
one clear error per kind of bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mvedge.model.preprocessing import Preprocessing
from mvedge.quant.data import batches, image_folder, shard
from tests.conftest import write_digits

DIGITS = [str(i) for i in range(10)]


def test_class_subfolders_give_labels_by_the_model_label_names(digits_folder: Path) -> None:
    folder = image_folder(digits_folder, labelled=True, label_names=DIGITS, num_classes=10)
    assert len(folder) == 64 and folder.classes == DIGITS
    for path, label in zip(folder.paths, folder.labels):
        assert DIGITS[label] == path.parent.name
    unlabelled = image_folder(digits_folder, limit=10)
    assert len(unlabelled) == 10 and unlabelled.labels is None and len(set(p.parent for p in unlabelled.paths)) > 3  # spread out
    images, labels = next(batches(folder, Preprocessing(input_size=32), 5, np.arange(5)))
    assert images.shape == (5, 3, 32, 32) and labels.tolist() == folder.labels[:5]


def test_indices_as_class_names_for_a_model_without_labels(digits_folder: Path) -> None:
    folder = image_folder(digits_folder, labelled=True, label_names=None, num_classes=10)
    assert folder.labels == [int(p.parent.name) for p in folder.paths]
    with pytest.raises(ValueError, match="class index below 5"):
        image_folder(digits_folder, labelled=True, label_names=None, num_classes=5)


def test_shards_are_equal_disjoint_and_shared_across_ranks() -> None:
    parts = [shard(103, epoch=2, seed=7, rank=r, world=4) for r in range(4)]
    assert {len(p) for p in parts} == {25}
    joined = np.concatenate(parts)
    assert len(set(joined.tolist())) == 100
    assert not np.array_equal(shard(103, 0, 7), shard(103, 1, 7))  # reshuffled every epoch
    with pytest.raises(ValueError, match="cannot be split over 8 processes"):
        shard(5, 0, 0, 0, 8)


@pytest.mark.parametrize(
    ("make", "labelled", "message"),
    [
        (lambda root: root, False, "holds no images"),
        (lambda root: root / "missing", False, "does not exist"),
        (lambda root: (root / "a.png").write_bytes(b"not a png") and root, False, "a.png' cannot be read"),
        (lambda root: write_digits(root, 3, by_class=False), True, "must be in a class subfolder"),
        (lambda root: write_digits(root / "seven", 2, by_class=False) and root, True, "'seven' is not one of the model's labels"),
    ],
    ids=["empty", "missing", "unreadable", "loose-with-labels", "unknown-class"],
)
def test_bad_folders_are_refused_with_one_clear_message(tmp_path: Path, make, labelled: bool, message: str) -> None:
    root = make(tmp_path)
    with pytest.raises(ValueError, match=message):
        image_folder(root, labelled=labelled, label_names=DIGITS, num_classes=10)
