"""The result format: statistics by the contract's definitions, validation of results from devices."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from mvedge.profile.schema import SCHEMA, consistency_notes, from_dict, latency_stats, load_result, nearest_rank, operator_shares

APP_RESULT = {  # what android_demo / ios_demo write (device_contract.md)
    "schema": "mvedge.profile/1",
    "artifact": "mambavision-t-tflite-fp32.tflite",
    "sha256": None,
    "target": "tflite",
    "precision": "fp32",
    "runtime": "litert",
    "delegate": "XNNPACK",
    "device": {"platform": "android", "model": "Pixel 8", "os": "Android 14", "abi": "arm64-v8a", "source": "android_demo"},
    "threads": 4,
    "warmup": 2,
    "runs": 5,
    "load_ms": 120.5,
    "latency_ms": {"p50": 30.0, "p90": 50.0, "min": 10.0, "mean": 30.0},
    "samples_ms": [10.0, 20.0, 30.0, 40.0, 50.0],
    "throughput_fps": 33.33,
    "peak_memory_mb": 180.0,
    "operators": [{"name": "CONV_2D", "ms": 20.0, "share": 0.66}, {"name": "ADD", "ms": 10.0, "share": 0.34}],
}


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 11)]  # 1..10
    assert nearest_rank(values, 50) == 5.0 and nearest_rank(values, 90) == 9.0 and nearest_rank(values, 100) == 10.0
    assert nearest_rank([7.0], 90) == 7.0
    stats = latency_stats([40.0, 10.0, 30.0, 20.0, 50.0])  # unsorted input
    assert stats == {"p50": 30.0, "p90": 50.0, "min": 10.0, "mean": 30.0}
    with pytest.raises(ValueError):
        nearest_rank([], 50)


def test_operator_shares_add_the_time_outside_operators() -> None:
    rows = operator_shares({"Conv": 6.0, "Add": 2.0}, 11.0, "(outside)")
    assert [r["name"] for r in rows] == ["Conv", "(outside)", "Add"]
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    assert operator_shares({"Conv": 6.0}, 5.0, "(outside)")[0]["share"] == pytest.approx(1.2)  # no negative "outside" row


def test_app_result_round_trips() -> None:
    result = from_dict(copy.deepcopy(APP_RESULT))
    assert result.device.model == "Pixel 8" and result.latency_ms["p90"] == 50.0
    again = result.to_dict()
    assert again["schema"] == SCHEMA and list(again)[0] == "schema"
    assert {k: v for k, v in again.items() if k != "notes"} == APP_RESULT
    assert consistency_notes(result) == []


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda d: d.update(schema="mvedge.profile/2"), "expected 'mvedge.profile/1'"),
        (lambda d: d.pop("latency_ms"), "lacks latency_ms"),
        (lambda d: d.update(target="tensorrt"), "target 'tensorrt'"),
        (lambda d: d["device"].update(source="somewhere"), "device needs platform"),
        (lambda d: d["latency_ms"].update(p50=0), "must be positive"),
        (lambda d: d["latency_ms"].update(p90="fast"), "latency_ms.p90 must be a finite number"),
        (lambda d: d.update(samples_ms=[1.0, float("nan")]), "samples_ms[1]"),
        (lambda d: d.update(operators=[{"ms": 1.0, "share": 1.0}]), "operators[0] needs a name"),
        (lambda d: d.update(runs=-1), "runs must be a non-negative integer"),
        (lambda d: d.update(threads="4"), "threads must be an integer"),
    ],
)
def test_invalid_results_name_the_problem(change, message: str) -> None:
    data = copy.deepcopy(APP_RESULT)
    change(data)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        from_dict(data)


def test_stated_statistics_are_checked_against_samples() -> None:
    data = copy.deepcopy(APP_RESULT)
    data["latency_ms"]["p50"] = 25.0  # an app computing the median by interpolation, not nearest rank
    notes = consistency_notes(from_dict(data))
    assert notes == ["stated latency p50 25.000 ms differs from its samples' 30.000 ms"]


def test_load_result_reports_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_result(tmp_path / "none.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="is not JSON"):
        load_result(broken)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(APP_RESULT))
    assert load_result(good).artifact == APP_RESULT["artifact"]
