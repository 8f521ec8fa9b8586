"""mvedge.data.images: loading, the reference preprocessing (sizes, crop modes, normalisation), folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mvedge.data.images import list_images, load_image, preprocess
from mvedge.model.preprocessing import Preprocessing

UNIT = dict(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))  # output = pixel / 255


def _stripes(width: int, height: int) -> Image.Image:
    """Left third red, middle third green, right third blue; a marker row at the top."""
    array = np.zeros((height, width, 3), dtype=np.uint8)
    third = width // 3
    array[:, :third, 0] = 255
    array[:, third : 2 * third, 1] = 255
    array[:, 2 * third :, 2] = 255
    return Image.fromarray(array, "RGB")


@pytest.mark.parametrize("size", [(40, 30), (30, 40), (32, 32), (7, 100)])
@pytest.mark.parametrize("mode", ["center", "squash"])
@pytest.mark.parametrize("crop_pct", [1.0, 0.875])
def test_output_shape_and_dtype(size: tuple[int, int], mode: str, crop_pct: float) -> None:
    pre = Preprocessing(input_size=24, crop_pct=crop_pct, crop_mode=mode, interpolation="bilinear")
    out = preprocess(Image.new("RGB", size, (10, 20, 30)), pre)
    assert out.shape == (3, 24, 24) and out.dtype == np.float32 and out.flags.c_contiguous


def test_normalisation_numbers() -> None:
    pre = Preprocessing(input_size=4, mean=(0.5, 0.25, 0.0), std=(0.5, 0.25, 2.0), interpolation="nearest")
    out = preprocess(Image.new("RGB", (4, 4), (255, 0, 51)), pre)
    np.testing.assert_allclose(out[0], 1.0, atol=1e-6)  # (1 - 0.5) / 0.5
    np.testing.assert_allclose(out[1], -1.0, atol=1e-6)  # (0 - 0.25) / 0.25
    np.testing.assert_allclose(out[2], 0.1, atol=1e-6)  # (0.2 - 0) / 2
    imagenet = preprocess(Image.new("RGB", (4, 4), (255, 255, 255)), Preprocessing(input_size=4))
    np.testing.assert_allclose(imagenet[:, 0, 0], [(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225], rtol=1e-6)


def test_channels_first_keeps_rgb_order_and_columns() -> None:
    out = preprocess(_stripes(30, 30), Preprocessing(input_size=30, interpolation="nearest", **UNIT))
    assert out[0, 5, 2] == 1.0 and out[1, 5, 2] == 0.0  # left: red
    assert out[1, 5, 15] == 1.0 and out[0, 5, 15] == 0.0  # middle: green
    assert out[2, 5, 27] == 1.0  # right: blue


def test_center_keeps_aspect_and_crops_the_middle() -> None:
    # 90x30 -> shorter side 30 kept, centre crop takes the middle third (all green)
    out = preprocess(_stripes(90, 30), Preprocessing(input_size=30, interpolation="nearest", crop_mode="center", **UNIT))
    np.testing.assert_array_equal(out[1], 1.0)
    np.testing.assert_array_equal(out[0], 0.0)
    np.testing.assert_array_equal(out[2], 0.0)


def test_squash_resizes_both_sides() -> None:
    # squashing 90x30 to 30x30 keeps all three stripes
    out = preprocess(_stripes(90, 30), Preprocessing(input_size=30, interpolation="nearest", crop_mode="squash", **UNIT))
    assert out[0, :, :10].mean() == 1.0 and out[1, :, 10:20].mean() == 1.0 and out[2, :, 20:].mean() == 1.0


def test_crop_pct_resizes_to_floor_of_size_over_crop_pct_then_crops() -> None:
    # 20x20 with a 2-pixel black border; crop_pct 0.75: resize to floor(12/0.75)=16, crop 12 -> border gone
    array = np.zeros((20, 20, 3), dtype=np.uint8)
    array[2:18, 2:18] = 255
    pre = Preprocessing(input_size=12, crop_pct=0.75, interpolation="nearest", **UNIT)
    assert pre.resize_size() == 16
    out = preprocess(Image.fromarray(array, "RGB"), pre)
    assert out.shape == (3, 12, 12) and out.min() == 1.0
    full = preprocess(Image.fromarray(array, "RGB"), Preprocessing(input_size=12, interpolation="nearest", **UNIT))
    assert full.min() == 0.0  # crop_pct 1.0 keeps the border


@pytest.mark.parametrize("name, expected", [("bilinear", Image.Resampling.BILINEAR), ("bicubic", Image.Resampling.BICUBIC), ("nearest", Image.Resampling.NEAREST)])
def test_interpolation_is_the_named_one(name: str, expected: Image.Resampling) -> None:
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (10, 10, 3), dtype=np.uint8), "RGB")
    out = preprocess(image, Preprocessing(input_size=23, interpolation=name, **UNIT))
    ref = np.asarray(image.resize((23, 23), expected), dtype=np.float32).transpose(2, 0, 1) / 255.0
    np.testing.assert_allclose(out, ref, atol=1e-6)


def test_bad_options_raise() -> None:
    image = Image.new("RGB", (8, 8))
    with pytest.raises(ValueError, match="interpolation"):
        preprocess(image, Preprocessing(input_size=8, interpolation="lanczos9"))
    with pytest.raises(ValueError, match="crop_mode"):
        preprocess(image, Preprocessing(input_size=8, crop_mode="border"))


def test_grayscale_and_rgba_inputs_become_rgb(tmp_path: Path) -> None:
    pre = Preprocessing(input_size=8, interpolation="nearest", **UNIT)
    assert preprocess(Image.new("L", (8, 8), 128), pre).shape == (3, 8, 8)
    # a transparent PNG drawing loads as ink on white, not on black
    drawing = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    drawing.putpixel((3, 3), (0, 0, 0, 255))
    drawing.save(tmp_path / "drawing.png")
    loaded = load_image(tmp_path / "drawing.png")
    assert loaded.mode == "RGB" and loaded.getpixel((0, 0)) == (255, 255, 255) and loaded.getpixel((3, 3)) == (0, 0, 0)


def test_load_image_roundtrip(tmp_path: Path) -> None:
    Image.new("RGB", (5, 3), (1, 2, 3)).save(tmp_path / "a.png")
    image = load_image(tmp_path / "a.png")
    assert image.mode == "RGB" and image.size == (5, 3) and image.getpixel((0, 0)) == (1, 2, 3)


def test_unreadable_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "not_an_image.jpg"
    bad.write_bytes(b"this is text, not a JPEG")
    with pytest.raises(ValueError, match="not_an_image.jpg"):
        load_image(bad)
    with pytest.raises(ValueError, match="missing.png"):
        load_image(tmp_path / "missing.png")


def test_list_images_sorted_recursive_filtered(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ["b.PNG", "a.jpg", "sub/c.webp", "sub/d.jpeg", "e.bmp", "notes.txt", "f.gif"]:
        (tmp_path / name).write_bytes(b"x")
    found = list_images(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a.jpg", "b.PNG", "e.bmp", "sub/c.webp", "sub/d.jpeg"]


def test_list_images_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no images"):
        list_images(tmp_path)
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match="no images"):
        list_images(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        list_images(tmp_path / "nowhere")


# --- the steps one by one: pixels, normalise, denormalise, adapt_channels -----------------------

STEP_CASES = [
    Preprocessing(input_size=128, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), interpolation="bilinear", crop_mode="squash"),
    Preprocessing(input_size=56, interpolation="bicubic", crop_pct=0.875, crop_mode="center"),
    Preprocessing(input_size=33, interpolation="nearest", crop_pct=0.93, crop_mode="center"),
    Preprocessing(input_size=40, interpolation="bilinear", crop_pct=1.3, crop_mode="center"),  # crop larger than the picture: padding
]


def _float_path(image: Image.Image, pre: Preprocessing) -> np.ndarray:
    """timm's eval transform written out on float32 values: resize, pad, crop, /255, normalise."""
    from mvedge.data.images import resized_size

    resample = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC, "nearest": Image.Resampling.NEAREST}
    image = image.resize(resized_size(image.width, image.height, pre), resample[pre.interpolation])
    array = np.asarray(image, dtype=np.float32)
    side = pre.input_size
    ph, pw = max(side - array.shape[0], 0), max(side - array.shape[1], 0)
    array = np.pad(array, ((ph // 2, (ph + 1) // 2), (pw // 2, (pw + 1) // 2), (0, 0)))
    top, left = int(round((array.shape[0] - side) / 2.0)), int(round((array.shape[1] - side) / 2.0))
    array = array[top : top + side, left : left + side] / np.float32(255.0)
    array = (array - np.asarray(pre.mean, dtype=np.float32)) / np.asarray(pre.std, dtype=np.float32)
    return array.transpose(2, 0, 1)


@pytest.mark.parametrize("pre", STEP_CASES)
def test_pixels_then_normalise_is_the_float_path_bit_for_bit(pre: Preprocessing) -> None:
    from mvedge.data.images import normalise, pixels

    rng = np.random.default_rng(3)
    for size in [(8, 8), (97, 61), (40, 73)]:
        picture = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")
        fed = pixels(picture, pre)
        assert fed.dtype == np.uint8 and fed.shape == (pre.input_size, pre.input_size, 3) and fed.flags.c_contiguous
        assert np.array_equal(normalise(fed, pre), _float_path(picture, pre))
        assert np.array_equal(preprocess(picture, pre), _float_path(picture, pre))


def test_normalise_takes_batches_and_denormalise_gives_the_pixels_back() -> None:
    from mvedge.data.images import denormalise, normalise

    pre = Preprocessing(input_size=6)
    batch = np.random.default_rng(0).integers(0, 256, (4, 6, 6, 3), dtype=np.uint8)
    normalised = normalise(batch, pre)
    assert normalised.shape == (4, 3, 6, 6) and normalised.dtype == np.float32 and normalised.flags.c_contiguous
    assert np.array_equal(normalised[2], normalise(batch[2], pre))
    back = denormalise(normalised, pre)
    assert back.dtype == np.float64 and back.min() >= -1e-6 and back.max() <= 1 + 1e-6
    assert np.array_equal(np.rint(back * 255).astype(np.uint8).transpose(0, 2, 3, 1), batch)
    assert np.array_equal(denormalise(normalised[1], pre), back[1])
    with pytest.raises(ValueError, match="3 channel statistics"):
        denormalise(normalised[:, :1], pre)


def test_adapt_channels_averages_and_repeats_the_rgb_planes() -> None:
    from mvedge.data.images import adapt_channels

    rgb = np.random.default_rng(1).standard_normal((2, 3, 4, 4)).astype(np.float32)
    assert adapt_channels(rgb, 3) is rgb
    gray = adapt_channels(rgb, 1)
    assert gray.shape == (2, 1, 4, 4) and gray.dtype == np.float32
    np.testing.assert_allclose(gray[:, 0], (rgb[:, 0] + rgb[:, 1] + rgb[:, 2]) / 3, rtol=1e-6)
    four = adapt_channels(rgb[0], 4)  # one image, channels first
    assert four.shape == (4, 4, 4) and all(np.array_equal(four[c], gray[0, 0]) for c in range(4))
    with pytest.raises(ValueError, match="cannot adapt 1-channel images"):
        adapt_channels(gray, 3)


def test_preprocess_adapts_channels() -> None:
    pre = Preprocessing(input_size=8, interpolation="nearest")
    image = Image.fromarray(np.random.default_rng(2).integers(0, 256, (8, 8, 3), dtype=np.uint8), "RGB")
    rgb = preprocess(image, pre)
    assert np.array_equal(preprocess(image, pre, 2), np.repeat(rgb.mean(axis=0, keepdims=True), 2, axis=0))
