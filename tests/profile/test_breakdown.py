"""Per-operator aggregation of onnxruntime traces and ExecuTorch ETDump events (their documented shapes)."""

from __future__ import annotations

import pytest

from mvedge.profile.breakdown.executorch import op_type
from mvedge.profile.breakdown.executorch import per_run_op_times as et_times
from mvedge.profile.breakdown.onnxruntime import per_run_op_times as ort_times


def _node(name: str, op: str, ts: int, dur: int) -> dict:
    return {"cat": "Node", "name": f"{name}_kernel_time", "ts": ts, "dur": dur, "ph": "X", "args": {"op_name": op, "provider": "CPUExecutionProvider"}}


def test_onnxruntime_trace_by_op_type_per_run() -> None:
    events = [
        {"cat": "Session", "name": "model_loading_uri", "ts": 0, "dur": 50},
        {"cat": "Session", "name": "model_run", "ts": 100, "dur": 1000},  # warm-up run: dropped
        _node("conv1", "Conv", 110, 900),
        {"cat": "Session", "name": "model_run", "ts": 2000, "dur": 400},
        _node("conv1", "Conv", 2010, 200),
        _node("relu", "Relu", 2220, 50),
        {"cat": "Node", "name": "conv1_fence_before", "ts": 2005, "dur": 7, "args": {"op_name": "Conv"}},  # not a kernel
        {"cat": "Session", "name": "model_run", "ts": 3000, "dur": 600},
        _node("conv1", "Conv", 3010, 400),
        _node("relu", "Relu", 3420, 50),
        _node("gemm", "Gemm", 3480, 100),
        _node("stray", "Conv", 5000, 999),  # outside every run
    ]
    times, run_ms, runs = ort_times(events, skip_runs=1)
    assert runs == 2 and run_ms == pytest.approx(0.5)
    assert times == pytest.approx({"Conv": 0.3, "Relu": 0.05, "Gemm": 0.05})
    with pytest.raises(ValueError, match="need more than 1"):
        ort_times(events[:3], skip_runs=1)


def test_executorch_events_by_operator_type() -> None:
    events = [
        ("Method::execute", [9.0, 2.0, 4.0]),
        ("DELEGATE_CALL", [8.5, 1.8, 3.6]),
        ("Convolution (NHWC, F32) IGEMM #1", [5.0, 0.5, 1.5]),
        ("Convolution (NHWC, F32) IGEMM #2", [1.0, 0.5, 0.5]),
        ("Add (ND) #1", [0.5, 0.2, 0.2]),
        ("native_call_add.out", [0.1, 0.1, 0.1]),  # an operator outside the delegate
    ]
    times, run_ms, runs = et_times(events, skip_runs=1)
    assert runs == 2 and run_ms == pytest.approx(3.0)
    assert times == pytest.approx({"Convolution (NHWC, F32) IGEMM": 1.5, "Add (ND)": 0.2, "native_call_add.out": 0.1})
    assert op_type("Static Reshape (NC) #12") == "Static Reshape (NC)" and op_type("Sigmoid (NC)") == "Sigmoid (NC)"
    with pytest.raises(ValueError, match="Method::execute"):
        et_times(events[1:], skip_runs=1)
