"""Non-square preprocessing: both sides resized as timm does for a (height, width) size, then the
centre crop to height x width."""

from __future__ import annotations

import numpy as np
from PIL import Image

from mvedge.data.images import pixels, preprocess
from mvedge.model.preprocessing import Preprocessing


def _picture(width: int, height: int) -> Image.Image:
    values = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(values, "RGB")


def test_a_non_square_input_resizes_both_sides_then_crops_height_by_width():
    pre = Preprocessing(input_size=(96, 128), crop_pct=0.8, interpolation="bilinear")
    picture = _picture(300, 200)
    got = pixels(picture, pre)
    assert got.shape == (96, 128, 3)
    resized = np.asarray(picture.resize((160, 120), Image.Resampling.BILINEAR))  # floor(128/0.8) x floor(96/0.8)
    np.testing.assert_array_equal(got, resized[12:108, 16:144])


def test_the_model_input_is_channels_by_height_by_width():
    assert preprocess(_picture(50, 70), Preprocessing(input_size=(64, 96))).shape == (3, 64, 96)
    assert preprocess(_picture(50, 70), Preprocessing(input_size=(64, 96)), channels=1).shape == (1, 64, 96)
