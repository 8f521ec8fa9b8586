"""Image loading and the reference preprocessing (Pillow + numpy, no torchvision).

`preprocess` implements `mvedge.model.preprocessing.Preprocessing` exactly as timm's evaluation
transform does on PIL images (torchvision Resize + CenterCrop + ToTensor + Normalize), so the
numbers match what the official models were evaluated with:

- crop_mode "center": resize the shorter side to floor(S / crop_pct), the longer side to
  int(that * long / short) (aspect kept), then centre-crop S x S;
- crop_mode "squash": resize both sides to floor(S / crop_pct), then centre-crop S x S;
- a non-square input (H, W) resizes both sides to floor(H / crop_pct) x floor(W / crop_pct) and
  centre-crops H x W (timm's transform for a (height, width) input size; aspect not kept);
- scale to [0, 1], normalise with mean/std, channels first: float32 (3, S, S);
- for a model with another input channel count than 3, average the RGB planes and repeat them.

The steps are separate functions because apps and verification need them one by one: `pixels`
gives the 8-bit RGB pixels an app feeds (contract vectors store them), `normalise` turns pixels
into the model input, `denormalise` turns model input back into pixels, `adapt_channels` is the
one rule for models without 3 input channels, and `preprocess` is all of them for one picture.

The centre crop offsets are round((side - S) / 2) (torchvision's); a crop larger than the image
(crop_pct > 1) pads with zeros, as torchvision does.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mvedge.model.preprocessing import Preprocessing
from mvedge.errors import BadInput, NotFound

IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
"""File name endings `list_images` picks up (case-insensitive)."""

_INTERPOLATION = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
}


def load_image(path: str | os.PathLike) -> Image.Image:
    """Read an image file as an RGB PIL image.

    EXIF orientation is applied (phone photos come out upright). Transparent pixels are composited
    onto white, so a drawing saved with a transparent background (dark ink) stays dark on white
    instead of turning into dark ink on black. Raises ValueError naming the file when it is
    missing or not a readable image.
    """
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"image {str(path)!r} does not exist or is not a file")
    try:
        with Image.open(path) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened)
            has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
            if has_alpha:
                rgba = image.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                return Image.alpha_composite(background, rgba).convert("RGB")
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise BadInput(
            f"image {str(path)!r} cannot be read ({type(exc).__name__}: {exc}); pass a JPEG, PNG, BMP or WebP file"
        ) from exc


def _resample(name: str) -> Image.Resampling:
    try:
        return _INTERPOLATION[name]
    except KeyError:
        raise BadInput(f"interpolation must be one of {', '.join(_INTERPOLATION)}, got {name!r}") from None


def resized_size(width: int, height: int, pre: Preprocessing) -> tuple[int, int]:
    """(width, height) an image of this size is resized to before the centre crop: 'squash' resizes
    both sides to floor(S / crop_pct); 'center' resizes the shorter side to it and keeps the aspect
    (torchvision's Resize(int))."""
    side = pre.resize_size()
    if min(side if isinstance(side, tuple) else (side,)) < 1:
        raise BadInput(f"input_size {pre.input_size} with crop_pct {pre.crop_pct} gives an empty resize")
    if pre.crop_mode not in ("center", "squash"):
        raise BadInput(f"crop_mode must be 'center' or 'squash', got {pre.crop_mode!r}")
    if isinstance(side, tuple):  # (height, width): both sides, as timm's Resize((h, w))
        return side[1], side[0]
    if pre.crop_mode == "squash":
        return side, side
    if pre.crop_mode == "center":
        if width <= height:
            return side, max(1, int(side * height / width))
        return max(1, int(side * width / height)), side
    raise BadInput(f"crop_mode must be 'center' or 'squash', got {pre.crop_mode!r}")


def _center_crop(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """torchvision CenterCrop to (height, width) on an (H, W, C) array: zero padding first if the
    image is smaller."""
    height, width = size
    h, w = array.shape[:2]
    if h < height or w < width:
        pad_h, pad_w = max(height - h, 0), max(width - w, 0)
        array = np.pad(array, ((pad_h // 2, (pad_h + 1) // 2), (pad_w // 2, (pad_w + 1) // 2), (0, 0)))
        h, w = array.shape[:2]
    top = int(round((h - height) / 2.0))
    left = int(round((w - width) / 2.0))
    return array[top : top + height, left : left + width]


def pixels(image: Image.Image, pre: Preprocessing) -> np.ndarray:
    """The 8-bit RGB pixels (H, W, 3) an app feeds or normalises: Pillow resize, then the centre
    crop with torchvision's offsets round((side - S) / 2) (round half to even) and zero padding."""
    resample = _resample(pre.interpolation)
    if image.mode != "RGB":
        image = image.convert("RGB")
    size = resized_size(image.width, image.height, pre)
    if size != image.size:
        image = image.resize(size, resample=resample)
    return np.ascontiguousarray(_center_crop(np.asarray(image, dtype=np.uint8), pre.size))


def _statistics(pre: Preprocessing) -> tuple[np.ndarray, np.ndarray]:
    if len(pre.mean) != 3 or len(pre.std) != 3:
        raise BadInput(f"mean and std need 3 values (RGB), got {pre.mean!r} and {pre.std!r}")
    return np.asarray(pre.mean, dtype=np.float32), np.asarray(pre.std, dtype=np.float32)


def normalise(pixels: np.ndarray, pre: Preprocessing) -> np.ndarray:
    """8-bit RGB pixels (S, S, 3), or a batch (N, S, S, 3), as the model input: (pixels / 255 -
    mean) / std in float32, channels first: (3, S, S) or (N, 3, S, S)."""
    mean, std = _statistics(pre)
    array = pixels.astype(np.float32) / np.float32(255.0)
    array = (array - mean) / std
    return np.ascontiguousarray(np.moveaxis(array, -1, -3), dtype=np.float32)


def denormalise(images: np.ndarray, pre: Preprocessing) -> np.ndarray:
    """Normalised channels-first images ((C, S, S) or (N, C, S, S)) back to pixel values in [0, 1]
    (float64, the same shape): images * std + mean, per channel."""
    mean = np.asarray(pre.mean, dtype=np.float64).reshape(-1, 1, 1)
    std = np.asarray(pre.std, dtype=np.float64).reshape(-1, 1, 1)
    if images.ndim < 3 or mean.shape[0] != images.shape[-3]:
        raise BadInput(f"preprocessing has {mean.shape[0]} channel statistics, the images have shape {images.shape}")
    return images.astype(np.float64) * std + mean


def adapt_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """Normalised RGB images ((3, S, S) or (N, 3, S, S)) for a model with `channels` input
    channels: unchanged for 3, else the RGB planes averaged and repeated `channels` times."""
    have = images.shape[-3]
    if have == channels:
        return images
    if have != 3 or channels < 1:
        raise BadInput(f"cannot adapt {have}-channel images to {channels} channels; the adapter takes RGB images")
    return np.repeat(images.mean(axis=-3, keepdims=True, dtype=np.float32), channels, axis=-3)


def preprocess(image: Image.Image, pre: Preprocessing, channels: int = 3) -> np.ndarray:
    """An image as the model input: float32 array (channels, H, W) with (H, W) = pre.size (see
    module doc): `pixels`, then `normalise`, then `adapt_channels` for a model without 3 channels."""
    if pre.channels != "RGB" or pre.layout != "NCHW":
        raise BadInput(f"only RGB / NCHW preprocessing is supported, got {pre.channels} / {pre.layout}")
    _statistics(pre)  # bad mean/std: refused before any resizing
    return adapt_channels(normalise(pixels(image, pre), pre), channels)


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files under a folder, recursively, sorted by path (extensions: IMAGE_EXTENSIONS).

    Raises ValueError when the folder does not exist or holds no image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise NotFound(f"image folder {str(folder)!r} does not exist or is not a folder")
    found = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not found:
        raise BadInput(
            f"image folder {str(folder)!r} holds no images (looked for {', '.join(IMAGE_EXTENSIONS)}, recursively)"
        )
    return found
