"""Training images for QAT from a folder, without torchvision (Pillow + numpy, mvedge.data.images).

Layout: any image files under the folder (recursively) for distillation alone; with labels, one
subfolder per class directly under the folder (`DIR/<class>/*.png`), where each class name is
one of the model's labels (or, for a model without label names, its class index). Every file is
opened once up front, so a broken image is reported before training starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from mvedge.errors import BadInput
from mvedge.data.images import IMAGE_EXTENSIONS, list_images, load_image, preprocess
from mvedge.model.preprocessing import Preprocessing


@dataclass
class ImageFolder:
    """Image paths (sorted), their class indices when labelled, and the class names used."""

    root: Path
    paths: list[Path]
    labels: list[int] | None = None
    classes: list[str] | None = None

    def __len__(self) -> int:
        return len(self.paths)


def _check_readable(paths: list[Path]) -> None:
    """Open every file's header; BadInput naming the first one Pillow cannot identify."""
    for path in paths:
        try:
            with Image.open(path) as image:
                image.size  # noqa: B018 - the header is read on open
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise BadInput(
                f"image {str(path)!r} cannot be read ({type(exc).__name__}); remove it or replace it with a JPEG, PNG, BMP or WebP file"
            ) from exc


def _class_index(name: str, label_names: list[str] | None, num_classes: int | None) -> int:
    if label_names:
        if name in label_names:
            return label_names.index(name)
        raise BadInput(f"class folder {name!r} is not one of the model's labels ({', '.join(label_names[:20])}); name each folder after a label")
    if name.isdigit() and (num_classes is None or int(name) < num_classes):
        return int(name)
    limit = f" below {num_classes}" if num_classes else ""
    raise BadInput(f"class folder {name!r}: this model has no label names, so name each class folder after its class index{limit}")


def image_folder(
    root: str | os.PathLike,
    labelled: bool = False,
    label_names: list[str] | None = None,
    num_classes: int | None = None,
    limit: int | None = None,
) -> ImageFolder:
    """The images under `root` (at most `limit`, spread over the sorted list), with class indices
    from their subfolders when `labelled`. ValueError for a missing or empty folder, unreadable
    images, images outside class folders, or class folders the model has no class for."""
    root = Path(root)
    paths = list_images(root)  # ValueError: missing folder or no images
    if limit is not None:
        if limit < 1:
            raise BadInput(f"the image limit must be >= 1, got {limit}")
        if len(paths) > limit:
            paths = [paths[int(i)] for i in np.linspace(0, len(paths) - 1, limit).round().astype(int)]
    _check_readable(paths)
    if not labelled:
        return ImageFolder(root, paths)
    if labelled and num_classes is None:
        raise BadInput("labels need a classifier (the model has no classification head); train without labels (distillation only)")
    loose = [p for p in paths if p.parent == root]
    if loose:
        raise BadInput(f"with labels, every image must be in a class subfolder of {str(root)!r}; {str(loose[0])!r} is not")
    names = sorted({p.relative_to(root).parts[0] for p in paths})
    indices = {name: _class_index(name, label_names, num_classes) for name in names}
    labels = [indices[p.relative_to(root).parts[0]] for p in paths]
    return ImageFolder(root, paths, labels, names)


def shard(count: int, epoch: int, seed: int, rank: int = 0, world: int = 1) -> np.ndarray:
    """This rank's indices for an epoch: one seeded shuffle shared by all ranks, split so every
    rank gets the same number (the tail that does not divide evenly is left out this epoch)."""
    order = np.random.default_rng(seed + epoch).permutation(count)
    per_rank = count // world
    if per_rank == 0:
        raise BadInput(f"{count} images cannot be split over {world} processes; give each process at least one image")
    return order[rank * per_rank : (rank + 1) * per_rank]


def batches(
    folder: ImageFolder, pre: Preprocessing, batch_size: int, indices: np.ndarray, channels: int = 3
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Preprocessed (images NCHW float32 with `channels` channels, labels or None) batches over
    `indices`, in order; the last batch may be smaller."""
    for start in range(0, len(indices), batch_size):
        chunk = indices[start : start + batch_size]
        arrays = np.stack([preprocess(load_image(folder.paths[i]), pre, channels) for i in chunk])
        labels = torch.tensor([folder.labels[i] for i in chunk], dtype=torch.long) if folder.labels is not None else None
        yield torch.from_numpy(arrays), labels


__all__ = ["IMAGE_EXTENSIONS", "ImageFolder", "batches", "image_folder", "shard"]
