"""Multi-size sidecars: `input.sizes` / `input.methods` and per-size drift, written only for
several sizes, read back, and refused when malformed; single-size sidecars keep their keys."""

from __future__ import annotations

import pytest

from mvedge.artifact import InputSpec, _Fields
from mvedge.errors import BadInput
from mvedge.verify.metrics import Drift, worst_size
from mvedge.verify.thresholds import failures


def _spec(**more) -> InputSpec:
    return InputSpec("image", [1, 3, 128, 128], "NCHW", "float32", 1, **more)


def test_a_single_size_input_writes_no_sizes_and_reads_its_one_size_from_the_shape():
    data = _spec().to_dict()
    assert "sizes" not in data and "methods" not in data
    assert InputSpec.from_fields(_Fields(data, "sidecar", "input.")).all_sizes() == [(128, 128)]
    nhwc = InputSpec("image", [1, 96, 128, 3], "NHWC", "float32", 1)
    assert nhwc.all_sizes() == [(96, 128)]


def test_a_multi_size_input_round_trips_its_sizes_and_methods():
    spec = _spec(sizes=[[128, 128], [96, 128]], methods=["forward", "forward_96x128"])
    back = InputSpec.from_fields(_Fields(spec.to_dict(), "sidecar", "input."))
    assert back == spec and back.all_sizes() == [(128, 128), (96, 128)]


@pytest.mark.parametrize("sizes, methods", [([[128]], None), ([], None), ([[128, 0]], None), ([[128, 128]], ["a", "b"])])
def test_malformed_sizes_are_refused_naming_the_field(sizes, methods):
    data = {**_spec().to_dict(), "sizes": sizes, "methods": methods}
    with pytest.raises(BadInput, match="input.(sizes|methods)"):
        InputSpec.from_fields(_Fields(data, "sidecar", "input."))


def _drift(psnr: float) -> Drift:
    return Drift(0.1, 0.01, 0.999999, psnr, 1.0, 1.0, 8)


def test_the_worst_size_decides_and_every_size_is_kept():
    drift = worst_size({"128": _drift(70.0), "96x128": _drift(10.0)})
    assert drift.size == "96x128" and drift.psnr_db == 10.0
    assert set(drift.to_dict()["sizes"]) == {"128", "96x128"}
    assert "sizes" not in _drift(60.0).to_dict()
    problems = failures(drift, "fp32")
    assert problems and all(p.startswith("96x128: ") for p in problems)
    assert failures(worst_size({"128": _drift(70.0), "96x128": _drift(71.0)}), "fp32") == []
