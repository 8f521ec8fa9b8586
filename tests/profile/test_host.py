"""Host profiling: each runtime in its own subprocess, statistics from real timed runs, breakdowns
where the runtime can give one, honest refusals where it cannot."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mvedge.errors import BadInput
from mvedge.profile import ProfileFailed, profile_host
from mvedge.profile.host import check_host_profilable
from mvedge.profile.memory import PeakMemory
from mvedge.profile.schema import from_dict, latency_stats


def _check_common(result, path: Path, runs: int, threads: int) -> None:
    assert result.artifact == path.name and result.precision == "fp32" and result.device.source == "host"
    assert len(result.samples_ms) == runs and all(s > 0 for s in result.samples_ms)
    assert result.latency_ms == pytest.approx(latency_stats(result.samples_ms), rel=1e-3)
    assert result.latency_ms["min"] <= result.latency_ms["p50"] <= result.latency_ms["p90"]
    assert result.throughput_fps == pytest.approx(1000.0 / result.latency_ms["p50"], rel=1e-2)
    assert result.threads == threads and result.load_ms > 0 and result.peak_memory_mb is not None
    assert len(result.sha256) == 64
    from_dict(result.to_dict())  # the host writes what the apps write


def test_onnx_profile_with_onnxruntime_breakdown(tiny_onnx: Path) -> None:
    result = profile_host(tiny_onnx, threads=1, warmup=2, runs=7, breakdown_runs=3)
    _check_common(result, tiny_onnx, 7, 1)
    assert result.runtime == "onnxruntime" and result.target == "onnx"
    names = {op["name"] for op in result.operators}
    assert {"Conv", "Gemm"} <= names or {"Conv", "MatMul"} <= names, names
    assert sum(op["share"] for op in result.operators) == pytest.approx(1.0, abs=0.01)
    assert any("onnxruntime profiler" in n for n in result.notes)


def test_executorch_profile_with_etdump_breakdown_and_threads(tiny_pte: Path) -> None:
    result = profile_host(tiny_pte, threads=2, warmup=1, runs=5, breakdown_runs=3)
    _check_common(result, tiny_pte, 5, 2)  # threads read back from ExecuTorch's thread pool
    assert result.runtime == "executorch" and result.delegate == "XNNPACK"
    names = [op["name"] for op in result.operators]
    assert any(name.startswith("Convolution") for name in names) and any("Fully Connected" in name for name in names), names
    assert not any("#" in name for name in names)  # grouped by operator type
    assert sum(op["share"] for op in result.operators) == pytest.approx(1.0, abs=0.01)


def test_litert_profile_says_there_is_no_breakdown(tiny_tflite: Path) -> None:
    result = profile_host(tiny_tflite, threads=1, warmup=1, runs=4, breakdown_runs=3)
    _check_common(result, tiny_tflite, 4, 1)
    assert result.runtime == "litert" and result.delegate == "XNNPACK" and result.operators is None
    assert any("not available from LiteRT's Python API" in n for n in result.notes)


def test_no_breakdown_when_not_asked(tiny_onnx: Path) -> None:
    result = profile_host(tiny_onnx, threads=1, warmup=0, runs=2, breakdown_runs=0)
    assert result.operators is None and not any("per-operator" in n for n in result.notes)


def test_a_broken_artifact_fails_with_one_line(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an onnx model")
    with pytest.raises(ProfileFailed, match="broken.onnx failed in its runtime"):
        profile_host(bad, threads=1, runs=1, breakdown_runs=0)


@pytest.mark.skipif(sys.platform == "darwin", reason="Core ML runs on macOS")
def test_core_ml_is_refused_on_linux(tmp_path: Path) -> None:
    package = tmp_path / "m.mlpackage"
    package.mkdir()
    with pytest.raises(ValueError, match="Core ML latency cannot be measured on .*--device ios"):
        check_host_profilable(package)
    with pytest.raises(ValueError, match="interpreter"):
        profile_host(package)


def test_bad_arguments(tiny_onnx: Path, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="does not exist"):
        profile_host(tmp_path / "missing.onnx")
    with pytest.raises(ValueError, match="unknown artifact type"):
        profile_host(tiny_onnx.with_name(tiny_onnx.name + ".json"))
    with pytest.raises(ValueError, match="--runs must be >= 1"):
        profile_host(tiny_onnx, runs=0)


def test_peak_memory_sees_an_allocation() -> None:
    """In a fresh process, as the profiler uses it: a long test session frees memory at random
    moments (garbage collection), which would hide part of the allocation from an in-process check."""
    import subprocess

    code = (
        "import gc; gc.disable()\n"
        "from mvedge.profile.memory import PeakMemory\n"
        "memory = PeakMemory(); memory.start()\n"
        "block = bytearray(64 << 20); block[::4096] = b'\\1' * len(block[::4096])\n"
        "print(memory.peak_mb(), memory.method)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    peak = float(done.stdout.split()[0])
    assert 60 <= peak < 200, done.stdout


def test_without_a_sidecar_the_runtime_gives_the_input_shape(tiny_onnx: Path, tmp_path: Path) -> None:
    import shutil

    bare = tmp_path / "bare.onnx"
    shutil.copy(tiny_onnx, bare)  # no bare.onnx.json next to it
    result = profile_host(bare, threads=1, warmup=0, runs=2, breakdown_runs=0)
    assert result.precision is None and len(result.samples_ms) == 2


def test_a_broken_sidecar_is_refused_before_profiling(tiny_onnx: Path, tmp_path: Path) -> None:
    import shutil

    artifact = tmp_path / "broken.onnx"
    shutil.copy(tiny_onnx, artifact)
    (tmp_path / "broken.onnx.json").write_text('{"precision": "fp32"}')  # not what mvedge convert writes
    with pytest.raises(BadInput, match=r"broken\.onnx\.json: field 'target' is missing"):
        profile_host(artifact, threads=1, warmup=0, runs=1, breakdown_runs=0)
