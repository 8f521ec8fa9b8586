"""Preprocessing as data: the official variants' settings and the dict form sidecars and QAT
checkpoints carry (`to_dict` / `from_dict`)."""

from __future__ import annotations

import json

import pytest

import mvedge
from mvedge.errors import BadInput
from mvedge.model.embedded import default_preprocessing
from mvedge.model.preprocessing import Preprocessing


@pytest.mark.parametrize("pre", [*(mvedge.preprocessing(v) for v in mvedge.VARIANTS), Preprocessing(input_size=40, crop_pct=1.3)])
def test_from_dict_reads_back_what_to_dict_wrote_through_json(pre: Preprocessing) -> None:
    plain = json.loads(json.dumps(pre.to_dict()))  # lists, not tuples; resize_size included
    assert isinstance(plain["mean"], list) and "resize_size" in plain
    again = Preprocessing.from_dict(plain)
    assert again == pre and isinstance(again.mean, tuple) and isinstance(again.std, tuple)


def test_the_embedded_models_preprocessing_comes_from_its_sidecar() -> None:
    pre = default_preprocessing()
    assert (pre.input_size, pre.mean, pre.interpolation, pre.crop_mode) == (128, (0.5, 0.5, 0.5), "bilinear", "squash")


def test_missing_keys_take_the_defaults() -> None:
    assert Preprocessing.from_dict({"input_size": 96}) == Preprocessing(input_size=96)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"input_size": 0}, "input_size must be a positive integer"),
        ({"input_size": "224"}, "input_size must be a positive integer"),
        ({"mean": "0.5"}, "mean must be a list of numbers"),
        ({"std": [0.5, 0, 0.5]}, "std must not contain 0"),
        ({"crop_pct": -1}, "crop_pct must be a number above 0"),
        ({"interpolation": 3}, "interpolation must be a string"),
        ({"extra": []}, "extra must be a JSON object"),
        ({"crop_size": 224}, "unknown key 'crop_size'"),
    ],
)
def test_bad_entries_are_bad_input_naming_the_key(values: dict, message: str) -> None:
    with pytest.raises(BadInput, match=f"the sidecar's preprocessing.*{message}"):
        Preprocessing.from_dict(values, "the sidecar's preprocessing")
    with pytest.raises(BadInput, match="must be a JSON object"):
        Preprocessing.from_dict([224])
