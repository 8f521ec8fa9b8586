"""Natural photos that ship inside installed packages (no download), and deterministic crops of them."""

from __future__ import annotations

import numpy as np
from PIL import Image
from mvedge.errors import BadInput


def packaged_photos() -> list[Image.Image]:
    """Natural photos bundled with scikit-learn (always) and scikit-image (when installed)."""
    photos: list[Image.Image] = []
    try:
        from sklearn.datasets import load_sample_images

        photos += [Image.fromarray(np.asarray(img)) for img in load_sample_images().images]
    except ImportError:
        pass
    try:
        import skimage.data as skdata

        for name in ("astronaut", "chelsea", "coffee", "rocket", "cat"):
            try:
                array = getattr(skdata, name)()
            except Exception:  # a sample that needs a download is skipped
                continue
            photos.append(Image.fromarray(np.asarray(array)).convert("RGB"))
    except ImportError:
        pass
    if not photos:
        raise BadInput("no packaged photos found: install scikit-learn (pip install scikit-learn)")
    return photos


def crops(photo: Image.Image, count: int) -> list[Image.Image]:
    """The whole photo plus deterministic sub-crops, so a few photos give a varied set."""
    width, height = photo.size
    out = [photo]
    rng = np.random.default_rng(0)
    while len(out) < count:
        scale = rng.uniform(0.4, 0.9)
        w, h = int(width * scale), int(height * scale)
        x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        out.append(photo.crop((x, y, x + w, y + h)))
    return out
