"""Images in, model inputs out: loading, preprocessing and the bundled handwritten-digits data.

Pillow + numpy only (no torchvision), so the same code runs wherever mvedge runs and defines the
reference preprocessing that converters fold into artifacts and demo apps reimplement.
"""

from mvedge.data.images import (
    IMAGE_EXTENSIONS,
    adapt_channels,
    denormalise,
    list_images,
    load_image,
    normalise,
    pixels,
    preprocess,
)

__all__ = ["IMAGE_EXTENSIONS", "adapt_channels", "denormalise", "list_images", "load_image", "normalise", "pixels", "preprocess"]
