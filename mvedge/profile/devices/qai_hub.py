"""Qualcomm AI Hub: profile a .tflite or .onnx on a hosted phone through the qai_hub client.

Needs an AI Hub account: `pip install qai-hub`, then `qai-hub configure --api_token TOKEN` (token
from the account settings page of Qualcomm AI Hub). mvedge imports qai_hub only when asked.
`ProfileJob.download_profile()` returns a dict (qai_hub client, `_profile_pb_to_python_dict`):
  {"execution_summary": {"estimated_inference_time": us, "estimated_inference_peak_memory": bytes,
                         "first_load_time": us, "warm_load_time": us, "all_inference_times": [us, ...],
                         "inference_memory_peak_range": [bytes, bytes], ...},
   "execution_detail": [{"name": ..., "type": ..., "compute_unit": "NPU"|"GPU"|"CPU",
                         "execution_time": us, "execution_cycles": ...}, ...]}
AI Hub's estimated_inference_time is its fastest run; mvedge's p50 comes from all_inference_times
when present.
"""

from __future__ import annotations

import importlib
from collections import Counter, defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any

from mvedge.artifact import precision_of, sha256_of, target_of
from mvedge.profile.devices.commands import DeviceError
from mvedge.profile.host import ProfileFailed
from mvedge.profile.schema import Device, ProfileResult, latency_stats, operator_shares, throughput

NO_CLIENT = (
    "Qualcomm AI Hub needs its client and an account: pip install qai-hub, then qai-hub configure --api_token TOKEN "
    "(the token is on your AI Hub account's settings page)"
)
SUPPORTED = {".tflite": "tflite", ".onnx": "onnx"}


def load_client() -> ModuleType:
    """The qai_hub module, imported on demand; DeviceError (exit 2) when it is not installed."""
    try:
        return importlib.import_module("qai_hub")
    except ImportError as exc:
        raise DeviceError(NO_CLIENT) from exc


def parse_profile(profile: dict[str, Any], artifact: str, target: str, precision: str | None, device: Device, sha256: str | None = None) -> ProfileResult:
    """A profile result from AI Hub's profile dict (times in microseconds, memory in bytes)."""
    summary = profile.get("execution_summary")
    if not isinstance(summary, dict) or summary.get("estimated_inference_time") is None:
        raise ProfileFailed("the AI Hub profile has no execution_summary.estimated_inference_time")
    samples = [t / 1000.0 for t in summary.get("all_inference_times") or [] if t is not None]
    notes = [f"measured by Qualcomm AI Hub on a hosted {device.model}"]
    if samples:
        stats = latency_stats(samples)
    else:
        fastest = summary["estimated_inference_time"] / 1000.0
        stats = {"p50": fastest, "p90": None, "min": fastest, "mean": None}
        notes.append("AI Hub gave no per-run times: p50 is its estimated_inference_time (its fastest run)")
    peak = summary.get("estimated_inference_peak_memory")
    if peak is None and summary.get("inference_memory_peak_range"):
        peak = max(summary["inference_memory_peak_range"])
    detail = profile.get("execution_detail") or []
    units = Counter(str(layer.get("compute_unit", "?")).upper() for layer in detail)
    by_type: dict[str, float] = defaultdict(float)
    for layer in detail:
        if layer.get("execution_time") is not None:
            by_type[f"{layer.get('type', '?')} [{str(layer.get('compute_unit', '?')).upper()}]"] += layer["execution_time"] / 1000.0
    operators = operator_shares(dict(by_type), sum(by_type.values())) if by_type else None
    if operators:
        notes.append("per-operator times: AI Hub's execution_detail by layer type and compute unit (shares of their sum)")
    load = summary.get("warm_load_time") or summary.get("first_load_time")
    return ProfileResult(
        artifact=artifact,
        sha256=sha256,
        target=target,
        precision=precision,
        runtime={"tflite": "litert", "onnx": "onnxruntime"}.get(target, target),
        delegate=", ".join(f"{unit} ({count})" for unit, count in units.most_common()) or "unknown",
        device=device,
        threads=None,
        warmup=0,
        runs=len(samples),
        load_ms=load / 1000.0 if load is not None else None,
        latency_ms=stats,
        samples_ms=samples,
        throughput_fps=round(throughput(stats["p50"]), 2),
        peak_memory_mb=peak / 2**20 if peak is not None else None,
        operators=operators,
        notes=notes,
    )


def hub_device(dev: Any, fallback_name: str) -> Device:
    """An AI Hub device (name, os, attributes such as "os:android") as a profile's device."""
    attributes = getattr(dev, "attributes", None) or []
    system = next((a.split(":", 1)[1] for a in attributes if isinstance(a, str) and a.startswith("os:")), "android")
    platform = system if system in ("android", "ios", "linux", "windows") else "android"
    name = getattr(dev, "name", None) or fallback_name
    return Device(platform, name, f"{system.capitalize()} {getattr(dev, 'os', '') or '?'}", None, "qai_hub")


def profile_qai_hub(artifact: Path, device_name: str, hub: ModuleType | None = None, options: str = "") -> ProfileResult:
    """Upload, profile on the named AI Hub device, wait, download and parse the profile."""
    if artifact.suffix not in SUPPORTED:
        raise DeviceError(f"Qualcomm AI Hub profiles .tflite and .onnx artifacts here, not {artifact.suffix}")
    if not device_name:
        raise DeviceError('name the AI Hub device: --device "qai-hub:Samsung Galaxy S24 (Family)" (see qai-hub list-devices)')
    hub = hub or load_client()
    job = hub.submit_profile_job(model=str(artifact), device=hub.Device(device_name), name=f"mvedge {artifact.name}", options=options)
    status = job.wait()
    if not getattr(status, "success", False):
        raise ProfileFailed(f"AI Hub profile job {getattr(job, 'job_id', '?')} failed: {getattr(status, 'message', status)}")
    profile = job.download_profile()
    device = hub_device(getattr(job, "device", None), device_name)
    result = parse_profile(profile, artifact.name, target_of(artifact), precision_of(artifact), device, sha256_of(artifact))
    result.notes.append(f"AI Hub job {getattr(job, 'job_id', '?')}: {getattr(job, 'url', '')}".rstrip(": "))
    return result
