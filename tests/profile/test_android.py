"""Android: adb discovery and its errors, the android_demo app flow, LiteRT's benchmark_model and
ExecuTorch's benchmark app, all against a fake adb (no phone is attached here)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from mvedge.profile.devices import DeviceError, parse_device, profile_on_device
from mvedge.profile.devices.adb import Adb, parse_devices
from mvedge.profile.devices.android_demo import parse_logcat, profile_android_demo
from mvedge.profile.devices.benchmark_model import parse_benchmark_model, profile_benchmark_model, to_result
from mvedge.profile.devices.executorch_benchmark import parse_minibench, profile_minibench
from mvedge.profile.host import ProfileFailed
from mvedge.profile.schema import Device

from tests.sidecars import write_test_sidecar

from .fakes import FakeRunner
from .test_schema import APP_RESULT

SAMPLES = Path(__file__).parent / "samples"
PROPS = {"ro.product.manufacturer": "Google", "ro.product.model": "Pixel 8", "ro.build.version.release": "14", "ro.product.cpu.abi": "arm64-v8a"}


def phone(extra=None, devices="List of devices attached\nABC123\tdevice\n\n"):
    """A handler answering like adb with one ready phone; `extra(args)` may answer first."""

    def handler(args):
        if extra:
            answer = extra(args)
            if answer is not None:
                return answer
        if args[1:] == ["devices"]:
            return 0, devices
        if args[3:5] == ["shell", args[4]] and args[4].startswith("getprop "):
            return 0, PROPS.get(args[4].split()[1].strip("'"), "") + "\n"
        return 0, ""

    return handler


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    path = tmp_path / "mambavision-t-tflite-fp32.tflite"
    path.write_bytes(b"TFL3 model bytes")
    return write_test_sidecar(path, target="tflite", precision="fp32")


def test_device_values() -> None:
    assert parse_device("android").kind == "android" and parse_device("android:ABC").ident == "ABC"
    assert parse_device("ios:simulator").ident == "simulator"
    assert parse_device("qai-hub:Samsung Galaxy S24 (Family)").ident == "Samsung Galaxy S24 (Family)"
    with pytest.raises(DeviceError, match="unknown --device 'pixel'"):
        parse_device("pixel")


def test_missing_adb_is_one_clear_error(monkeypatch) -> None:
    monkeypatch.delenv("ANDROID_HOME", raising=False)
    monkeypatch.delenv("ANDROID_SDK_ROOT", raising=False)
    with pytest.raises(DeviceError, match="adb is not installed or not on PATH: install Android SDK platform-tools"):
        Adb(FakeRunner(tools=()))


@pytest.mark.parametrize(
    "listing,serial,message",
    [
        ("List of devices attached\n\n", None, "no Android device is attached and ready"),
        ("List of devices attached\nABC\tunauthorized\n", None, "ABC is unauthorized"),
        ("List of devices attached\nA1\tdevice\nB2\tdevice\n", None, r"several Android devices are attached \(A1, B2\); choose one with --device android:SERIAL"),
        ("List of devices attached\nA1\tdevice\n", "Z9", "no Android device 'Z9' is attached"),
        ("List of devices attached\nA1\toffline\n", "A1", "A1 is offline"),
    ],
)
def test_device_choice_errors(listing: str, serial, message: str) -> None:
    with pytest.raises(DeviceError, match=message):
        Adb(FakeRunner(phone(devices=listing)), serial)


def test_device_choice_and_info() -> None:
    assert parse_devices("* daemon started successfully\nList of devices attached\nemulator-5554\tdevice product:sdk\n") == [("emulator-5554", "device")]
    adb = Adb(FakeRunner(phone(devices="List of devices attached\nA1\tdevice\nB2\tdevice\n")), "B2")
    assert adb.serial == "B2"
    device = adb.device("android_demo")
    assert (device.model, device.os, device.abi, device.platform) == ("Google Pixel 8", "Android 14", "arm64-v8a", "android")


def _demo_handler(result: dict | None, logcat_after: int = 2, installed: bool = True, failed: str | None = None):
    state = {"logcat": 0}

    def extra(args):
        rest = args[3:]
        if rest[:1] == ["shell"] and rest[1].startswith("pm list packages"):
            return 0, "package:dev.mvedge.demo\n" if installed else ""
        if rest[:3] == ["logcat", "-d", "-s"]:
            state["logcat"] += 1
            if state["logcat"] < logcat_after:
                return 0, "--------- beginning of main\n"
            line = f"BENCHMARK_FAILED {failed}" if failed else "BENCHMARK_DONE /storage/emulated/0/Android/data/dev.mvedge.demo/files/benchmark/r.json"
            return 0, f"11-28 20:01:02.345  4321  4400 I MVEDGE  : {line}\n"
        if rest[:1] == ["pull"]:
            Path(rest[2]).write_text(json.dumps(result))
            return 0, "1 file pulled"
        return None

    return phone(extra)


def test_android_demo_flow_follows_the_contract(artifact: Path) -> None:
    result = copy.deepcopy(APP_RESULT)
    runner = FakeRunner(_demo_handler(result))
    profiled = profile_android_demo(Adb(runner), artifact, threads=4, warmup=2, runs=5, timeout=30, sleep=lambda s: None)
    assert profiled.device.model == "Pixel 8" and profiled.latency_ms["p50"] == 30.0
    assert profiled.sha256 and len(profiled.sha256) == 64  # the app gave none: the host fills it in
    pushes = [c[4:] for c in runner.commands("push")]
    assert [str(artifact), "/data/local/tmp/mvedge/mambavision-t-tflite-fp32.tflite"] in pushes
    assert [str(artifact) + ".json", "/data/local/tmp/mvedge/mambavision-t-tflite-fp32.tflite.json"] in pushes
    start = next(c[-1] for c in runner.calls if c[-1].startswith("am start"))
    assert start.startswith("am start -W -n dev.mvedge.demo/.BenchmarkActivity --es artifact /data/local/tmp/mvedge/mambavision-t-tflite-fp32.tflite")
    assert "--es runtime litert --ei threads 4 --ei runs 5 --ei warmup 2 --es result mvedge-mambavision-t-tflite-fp32-" in start
    assert runner.commands("logcat")[0][3:] == ["logcat", "-c"]  # old lines cleared before starting
    assert all(c[1:3] == ["-s", "ABC123"] for c in runner.calls[1:])


def test_android_demo_failures(artifact: Path) -> None:
    with pytest.raises(DeviceError, match="android_demo app .* is not installed on ABC123"):
        profile_android_demo(Adb(FakeRunner(_demo_handler(None, installed=False))), artifact, 4, 1, 1, sleep=lambda s: None)
    with pytest.raises(ProfileFailed, match="could not profile .*: model needs 2 GB"):
        profile_android_demo(Adb(FakeRunner(_demo_handler(None, failed="model needs 2 GB"))), artifact, 4, 1, 1, sleep=lambda s: None)
    with pytest.raises(ProfileFailed, match="reported nothing within 6 s"):
        profile_android_demo(Adb(FakeRunner(_demo_handler(None, logcat_after=99))), artifact, 4, 1, 1, timeout=6, sleep=lambda s: None)
    bad = copy.deepcopy(APP_RESULT)
    bad["latency_ms"].pop("p50")
    with pytest.raises(ValueError, match="latency_ms.p50"):
        profile_android_demo(Adb(FakeRunner(_demo_handler(bad))), artifact, 4, 1, 1, sleep=lambda s: None)
    onnx = artifact.with_suffix(".onnx")
    onnx.write_bytes(b"x")
    with pytest.raises(DeviceError, match="runs .tflite .* and .pte"):
        profile_android_demo(Adb(FakeRunner(_demo_handler(None))), onnx, 4, 1, 1)
    assert parse_logcat("x BENCHMARK_DONE /a.json\ny BENCHMARK_FAILED out of memory  \n") == ("FAILED", "out of memory")


def test_benchmark_model_current_format(artifact: Path) -> None:
    parsed = parse_benchmark_model((SAMPLES / "benchmark_model_v2.txt").read_text())
    assert parsed["init_ms"] == pytest.approx(412.5) and parsed["avg_ms"] == pytest.approx(51.7432)
    assert parsed["median_ms"] == pytest.approx(50.891) and parsed["min_ms"] == pytest.approx(49.088)
    assert (parsed["runs"], parsed["warmup_runs"], parsed["threads"]) == (50, 9, 4)
    assert parsed["peak_memory_mb"] == pytest.approx(171.4) and parsed["operators"] is None
    result = to_result(parsed, artifact, Device("android", "Pixel 8", "Android 14", "arm64-v8a", "benchmark_model"), "XNNPACK")
    assert result.latency_ms == {"p50": pytest.approx(50.891), "p90": None, "min": pytest.approx(49.088), "mean": pytest.approx(51.7432)}
    assert result.throughput_fps == pytest.approx(19.65, abs=0.01) and result.samples_ms == []
    assert any("p90 is not available" in n for n in result.notes)


def test_benchmark_model_older_format_with_op_profile(artifact: Path) -> None:
    parsed = parse_benchmark_model((SAMPLES / "benchmark_model_v1.txt").read_text())
    assert parsed["median_ms"] is None and parsed["avg_ms"] == pytest.approx(266.473)
    assert parsed["runs"] == 50 and parsed["min_ms"] == pytest.approx(265.837)  # not the op profiler's "Timings" line
    assert parsed["peak_memory_mb"] == pytest.approx(30.125) and parsed["threads"] == 2
    ops = parsed["operators"]
    assert [o["name"] for o in ops] == ["FULLY_CONNECTED", "CONV_2D", "MUL", "ADD"]
    assert ops[0]["ms"] == pytest.approx(150.406) and ops[0]["share"] == pytest.approx(0.56443)
    result = to_result(parsed, artifact, Device("android", "x", "Android 13", None, "benchmark_model"), "XNNPACK")
    assert result.latency_ms["p50"] == pytest.approx(266.473) and any("p50 is its average" in n for n in result.notes)
    with pytest.raises(ValueError, match="no 'Inference timings in us"):
        parse_benchmark_model("ERROR: Could not open 'm.tflite'.\n")


def test_benchmark_model_over_adb(artifact: Path, tmp_path: Path) -> None:
    output = (SAMPLES / "benchmark_model_v2.txt").read_text()
    profiled = (SAMPLES / "benchmark_model_v1.txt").read_text()

    def extra(args):
        if args[3:4] == ["shell"] and "/data/local/tmp/benchmark_model --graph" in args[4]:
            return 0, profiled if "--enable_op_profiling=true" in args[4] else output
        return None

    runner = FakeRunner(phone(extra))
    binary = tmp_path / "android_aarch64_benchmark_model"
    binary.write_bytes(b"\x7fELF")
    result = profile_benchmark_model(Adb(runner), artifact, str(binary), threads=4, warmup=5, runs=50, breakdown=True)
    assert result.device.source == "benchmark_model" and result.latency_ms["p50"] == pytest.approx(50.891)
    assert result.operators[0]["name"] == "FULLY_CONNECTED"
    timed = next(c[4] for c in runner.calls if "--graph" in c[-1] and "op_profiling" not in c[-1])
    assert "--num_threads=4" in timed and "--num_runs=50" in timed and "--warmup_runs=5" in timed and "--use_xnnpack=true" in timed
    with pytest.raises(DeviceError, match="benchmark_model is not on ABC123"):
        profile_benchmark_model(Adb(FakeRunner(phone())), artifact, None, 4, 1, 1, False)


def test_executorch_benchmark_app(tmp_path: Path) -> None:
    parsed = parse_minibench((SAMPLES / "minibench_results.json").read_text())
    assert parsed["metrics"]["trimmean_inference_latency(ms)"] == 29.5 and parsed["device"]["arch"] == "SM-S921B"
    pte = tmp_path / "mambavision-t-executorch-int8.pte"
    pte.write_bytes(b"pte")
    reads = {"n": 0}

    def extra(args):
        rest = args[3:]
        if rest[:1] == ["shell"] and rest[1].startswith("pm list packages"):
            return 0, "package:org.pytorch.minibench\n"
        if rest[:1] == ["shell"] and rest[1].startswith("run-as org.pytorch.minibench cat"):
            reads["n"] += 1
            return (1, "cat: files/benchmark_results.json: No such file") if reads["n"] < 2 else (0, (SAMPLES / "minibench_results.json").read_text())
        return None

    runner = FakeRunner(phone(extra))
    result = profile_minibench(Adb(runner), pte, warmup=10, runs=50, sleep=lambda s: None)
    assert result.latency_ms == {"p50": 29.5, "p90": None, "min": None, "mean": 31.25}
    assert (result.load_ms, result.peak_memory_mb, result.device.model, result.device.abi) == (88.0, 64.0, "samsung SM-S921B", "arm64-v8a")
    start = next(c[4] for c in runner.calls if "am start" in c[-1])
    assert "-n org.pytorch.minibench/.BenchmarkActivity --es model_dir /data/local/tmp/minibench --ei num_iter 50 --ei num_warm_up_iter 10" in start
    failed = json.loads((SAMPLES / "minibench_results.json").read_text())
    failed[3]["actualValue"] = 34.0
    from mvedge.profile.devices.executorch_benchmark import to_result as minibench_result

    with pytest.raises(ProfileFailed, match="load_status 34"):
        minibench_result(parse_minibench(failed), pte, 1, 1, None)


def test_profile_on_device_dispatch_reaches_adb(artifact: Path, monkeypatch) -> None:
    monkeypatch.delenv("ANDROID_HOME", raising=False)
    monkeypatch.delenv("ANDROID_SDK_ROOT", raising=False)
    with pytest.raises(DeviceError, match="adb is not installed"):
        profile_on_device(artifact, parse_device("android"), 4, 1, 1, runner=FakeRunner(tools=()))
    with pytest.raises(DeviceError, match="--tool must be one of"):
        profile_on_device(artifact, parse_device("android"), 4, 1, 1, tool="perfetto", runner=FakeRunner(phone()))
