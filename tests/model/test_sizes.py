"""Input sizes: --image-size values (a side, HEIGHTxWIDTH, a list), the bundle at a non-square
size, and non-square preprocessing settings."""

from __future__ import annotations

import pytest

from mvedge.errors import BadInput
from mvedge.model.bundle import load_bundle
from mvedge.model.preprocessing import Preprocessing
from mvedge.model.sizes import method_name, parse_sizes, size_tag, sizes_tag


def test_sizes_parse_a_side_a_pair_and_a_list():
    assert parse_sizes("224") == [(224, 224)]
    assert parse_sizes("256x320") == [(256, 320)]
    assert parse_sizes(" 224 , 256X320,224") == [(224, 224), (256, 320)]
    assert parse_sizes(128) == [(128, 128)]
    assert parse_sizes(None) is None


@pytest.mark.parametrize("bad", ["12x", "x12", "0", "-3", "1x0", "axb", "224,,256", "", "224;256", "2.5"])
def test_bad_sizes_are_refused_in_one_line_naming_the_format(bad):
    with pytest.raises(BadInput) as error:
        parse_sizes(bad)
    message = str(error.value)
    assert "\n" not in message and "--image-size" in message and ("256x320" in message)


def test_names_write_square_as_a_side_and_others_as_height_x_width():
    assert size_tag((224, 224)) == "224"
    assert size_tag((256, 320)) == "256x320"
    assert sizes_tag([(224, 224), (256, 320)]) == "224_256x320"
    assert [method_name(i, s) for i, s in enumerate([(128, 128), (96, 128)])] == ["forward", "forward_96x128"]


def test_a_non_square_bundle_keeps_height_and_width():
    bundle = load_bundle(image_size="96x128")
    assert bundle.preprocessing.size == (96, 128)
    assert bundle.sizes == [(96, 128)] and bundle.size_label == "96x128"
    assert bundle.config["image_size"] == [96, 128]
    assert bundle.trained_size == 128


def test_a_multi_size_bundle_lists_every_size_and_converts_at_the_first():
    bundle = load_bundle(image_size="128,96x128")
    assert bundle.sizes == [(128, 128), (96, 128)]
    assert bundle.image_size == 128 and bundle.size_label == "128_96x128"
    assert bundle.at_size((96, 128)).preprocessing.size == (96, 128)
    assert bundle.at_size((96, 128)).model is bundle.model


def test_a_side_below_the_total_stride_is_refused_per_side():
    with pytest.raises(BadInput, match="16x128 has a side below the network's total stride"):
        load_bundle(image_size="16x128")


def test_a_non_square_preprocessing_round_trips_and_a_square_one_stays_a_side():
    pre = Preprocessing(input_size=(256, 320), crop_pct=0.8)
    data = pre.to_dict()
    assert data["input_size"] == [256, 320] and data["resize_size"] == [320, 400]
    assert Preprocessing.from_dict(data) == pre
    assert Preprocessing(input_size=(224, 224)).to_dict()["input_size"] == 224
    with pytest.raises(BadInput, match="input_size"):
        Preprocessing.from_dict({"input_size": [256]})
