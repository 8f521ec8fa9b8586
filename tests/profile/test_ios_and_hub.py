"""iOS (xcrun devicectl / simctl, against a fake xcrun: this is not a Mac) and Qualcomm AI Hub
(against a fake qai_hub module: it needs an account)."""

from __future__ import annotations

import copy
import json
import sys
import types
from pathlib import Path

import pytest

from mvedge.profile.devices import DeviceError, parse_device, profile_on_device
from mvedge.profile.devices.ios_demo import Xcrun, launch_arguments, parse_devicectl_devices, profile_ios_demo
from mvedge.profile.devices.qai_hub import hub_device, load_client, parse_profile, profile_qai_hub
from mvedge.profile.host import ProfileFailed
from mvedge.profile.schema import Device, from_dict

from tests.sidecars import write_test_sidecar

from .fakes import FakeRunner
from .test_schema import APP_RESULT

SAMPLES = Path(__file__).parent / "samples"
UDID = "00008130-001A2B3C4D5E6F70"


def ios_result() -> dict:
    result = copy.deepcopy(APP_RESULT)
    result.update(artifact="m.mlpackage", target="coreml", runtime="coreml", delegate="ALL", threads=None)
    result["device"] = {"platform": "ios", "model": "iPhone 15 Pro", "os": "iOS 18.0", "abi": "arm64", "source": "ios_demo"}
    return result


@pytest.fixture
def mlpackage(tmp_path: Path) -> Path:
    package = tmp_path / "m.mlpackage"
    (package / "Data").mkdir(parents=True)
    (package / "Manifest.json").write_text("{}")
    return write_test_sidecar(package, target="coreml", precision="fp16")


def test_ios_needs_a_mac_and_xcrun() -> None:
    with pytest.raises(DeviceError, match="needs a Mac with Xcode 15\\+.*this machine runs linux"):
        Xcrun(FakeRunner(), platform="linux")
    with pytest.raises(DeviceError, match="xcrun is not on PATH"):
        Xcrun(FakeRunner(tools=()), platform="darwin")
    if sys.platform != "darwin":
        with pytest.raises(DeviceError, match="needs a Mac"):
            profile_on_device(Path("m.mlpackage"), parse_device("ios"), 4, 1, 1)


def test_devicectl_listing() -> None:
    devices = parse_devicectl_devices(json.loads((SAMPLES / "devicectl_devices.json").read_text()))
    assert devices == [{"udid": UDID, "name": "Test iPhone", "model": "iPhone 15 Pro", "os": "iOS 18.0", "state": "connected"}]
    assert launch_arguments("m.mlpackage", 50, 5, "all", "r.json") == [
        "--benchmark", "--artifact", "m.mlpackage", "--runs", "50", "--warmup", "5", "--compute-units", "all", "--result", "r.json"
    ]


def test_ios_device_flow(mlpackage: Path) -> None:
    state = {"copies": 0}

    def handler(args):
        if args[1:4] == ["devicectl", "list", "devices"]:
            Path(args[-1]).write_text((SAMPLES / "devicectl_devices.json").read_text())
            return 0, ""
        if args[1:5] == ["devicectl", "device", "copy", "from"]:
            state["copies"] += 1
            if state["copies"] < 2:
                return 1, "ERROR: The file couldn't be opened because there is no such file."
            Path(args[args.index("--destination") + 1]).write_text(json.dumps(ios_result()))
        return 0, ""

    runner = FakeRunner(handler)
    result = profile_ios_demo(Xcrun(runner, platform="darwin"), mlpackage, None, warmup=5, runs=50, sleep=lambda s: None)
    assert result.device.model == "iPhone 15 Pro" and result.device.source == "ios_demo" and len(result.sha256) == 64
    launch = next(c for c in runner.calls if c[1:5] == ["devicectl", "device", "process", "launch"])
    assert launch[5:10] == ["--device", UDID, "--terminate-existing", "dev.mvedge.demo", "--"]
    assert launch[10:18] == ["--benchmark", "--artifact", "m.mlpackage", "--runs", "50", "--warmup", "5", "--compute-units"]
    push = next(c for c in runner.calls if c[1:5] == ["devicectl", "device", "copy", "to"])
    assert ["--domain-type", "appDataContainer", "--domain-identifier", "dev.mvedge.demo"] == push[7:11]
    assert push[-1] == "Documents/m.mlpackage"
    assert [c[-1] for c in runner.calls if c[1:5] == ["devicectl", "device", "copy", "to"]] == ["Documents/m.mlpackage", "Documents/m.mlpackage.json"]
    with pytest.raises(DeviceError, match="no iOS device 0000"):
        profile_ios_demo(Xcrun(runner, platform="darwin"), mlpackage, "0000", 1, 1, sleep=lambda s: None)


def test_ios_simulator_flow_and_timeout(mlpackage: Path, tmp_path: Path) -> None:
    container = tmp_path / "container"

    def handler(args):
        if args[1:3] == ["simctl", "get_app_container"]:
            return 0, f"{container}\n"
        if args[1:3] == ["simctl", "launch"]:  # the "app" writes its result
            name = args[args.index("--result") + 1]
            (container / "Documents" / name).write_text(json.dumps(ios_result()))
        return 0, ""

    result = profile_ios_demo(Xcrun(FakeRunner(handler), platform="darwin"), mlpackage, "simulator", 1, 3, sleep=lambda s: None)
    assert result.target == "coreml" and (container / "Documents" / "m.mlpackage" / "Manifest.json").is_file()
    assert (container / "Documents" / "m.mlpackage.json").is_file()
    silent = FakeRunner(lambda args: (0, f"{container}\n") if args[1:3] == ["simctl", "get_app_container"] else (0, ""))
    with pytest.raises(ProfileFailed, match="wrote no Documents/.* within 4 s"):
        profile_ios_demo(Xcrun(silent, platform="darwin"), mlpackage, "simulator", 1, 3, timeout=4, sleep=lambda s: None)
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"x")
    with pytest.raises(DeviceError, match="runs Core ML models"):
        profile_ios_demo(Xcrun(silent, platform="darwin"), onnx, "simulator", 1, 1)


def test_qai_hub_profile_parsing() -> None:
    profile = json.loads((SAMPLES / "qai_hub_profile.json").read_text())
    device = Device("android", "Samsung Galaxy S24 (Family)", "Android 14", None, "qai_hub")
    result = parse_profile(profile, "m.tflite", "tflite", "int8", device)
    assert result.latency_ms == {"p50": 12.3, "p90": 13.0, "min": 11.95, "mean": pytest.approx(12.68)}
    assert result.runs == 10 and result.load_ms == 210.0 and result.peak_memory_mb == pytest.approx(40.0)
    assert result.delegate == "NPU (3), CPU (1)"
    assert result.operators[0] == {"name": "FullyConnected [NPU]", "ms": 1.0, "share": 0.5}
    assert from_dict(result.to_dict()).device.source == "qai_hub"
    only_summary = {"execution_summary": {"estimated_inference_time": 8000}}
    fallback = parse_profile(only_summary, "m.onnx", "onnx", None, device)
    assert fallback.latency_ms["p50"] == 8.0 and fallback.operators is None and any("fastest run" in n for n in fallback.notes)
    with pytest.raises(ProfileFailed, match="estimated_inference_time"):
        parse_profile({"execution_detail": []}, "m.onnx", "onnx", None, device)


def test_qai_hub_client_flow(tmp_path: Path, monkeypatch) -> None:
    tflite = tmp_path / "m.tflite"
    tflite.write_bytes(b"TFL3")
    submitted = {}

    class Job:
        job_id, url = "jabc123", "https://example/jobs/jabc123/"
        device = types.SimpleNamespace(name="Samsung Galaxy S24 (Family)", os="14", attributes=["os:android", "chipset:qualcomm-snapdragon-8gen3"])

        def wait(self):
            return types.SimpleNamespace(success=True, message="")

        def download_profile(self):
            return json.loads((SAMPLES / "qai_hub_profile.json").read_text())

    def submit_profile_job(**kwargs):
        submitted.update(kwargs)
        return Job()

    hub = types.SimpleNamespace(Device=lambda name: ("device", name), submit_profile_job=submit_profile_job)
    result = profile_qai_hub(tflite, "Samsung Galaxy S24 (Family)", hub)
    assert submitted["model"] == str(tflite) and submitted["device"] == ("device", "Samsung Galaxy S24 (Family)")
    assert result.device.os == "Android 14" and result.notes[-1].startswith("AI Hub job jabc123")
    monkeypatch.setitem(sys.modules, "qai_hub", None)  # not installed
    with pytest.raises(DeviceError, match="pip install qai-hub, then qai-hub configure --api_token"):
        load_client()
    with pytest.raises(DeviceError, match="profiles .tflite and .onnx"):
        profile_qai_hub(tmp_path / "m.pte", "x", hub)
    assert hub_device(None, "Snapdragon X Elite CRD").platform == "android"
    assert hub_device(types.SimpleNamespace(name="X Elite", os="11", attributes=["os:windows"]), "").os == "Windows 11"
