"""The ARM64 runner: the artifact runs in its own runtime's aarch64 build under qemu user-mode
emulation, so its outputs come from the ARM kernels (NEON, dot product, fp16) a phone's CPU runs.
ExecuTorch's runtime is an optional part of the userland (it needs torch), fetched on first use."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from mvedge.artifact import Sidecar, artifact_type
from mvedge.errors import BadInput, Failed
from mvedge.progress import Progress
from mvedge.verify.arm64.userland import EMULATED_CPU, Userland, component, userland
from mvedge.verify.runners.base import Runner, RuntimeUnavailable

COMPONENTS = {"executorch": ("executorch",)}
"""The optional userland components each target's runtime needs."""
CPUS = {"executorch": f"{EMULATED_CPU},sme=off"}
"""qemu -cpu per target where it is not `max`: ExecuTorch's XNNPACK picks SME kernels for int8 when the
CPU reports SME, and under qemu 7.2 they give wrong outputs (top-1 0.1 on the digits; the same .pte
matches x86 exactly with SME off), so it runs on `max` without SME (dot product, i8mm, SVE2 kept)."""


def emulated_cpu(target: str) -> str:
    """The qemu -cpu model the target's artifacts run on under `--arch arm64`."""
    return CPUS.get(target, EMULATED_CPU)


SME_NOTE = (
    "SME off (qemu -cpu max,sme=off): with SME on, ExecuTorch 1.5.1's XNNPACK int8 kernels give wrong outputs under "
    "qemu 7.2 (qemu's SME emulation or the kernels: not decidable without SME hardware), so SME kernels are not checked"
)
FP16_NOTE = (
    "XNNPACK fp16 arithmetic forced (TFLITE_XNNPACK_DELEGATE_FLAG_FORCE_FP16 on a delegate made through the "
    "wheel's C API), as phones with ARMv8.2 fp16 arithmetic run fp16 models; checked to change the outputs "
    "(largest change against fp32 arithmetic on the first batch: {effect:.3g})"
)


class Arm64Runner(Runner):
    """Runs a .tflite (XNNPACK on, unless `xnnpack=False`), .onnx or .pte on the emulated ARM64 CPU.
    All images go through one emulated process (its start-up costs seconds; ExecuTorch's, which
    imports torch, about half a minute), so `whole_set` is True."""

    whole_set = True

    def __init__(self, path, threads: int | None = None, xnnpack: bool = True, sidecar: Sidecar | None = None,
                 progress: Progress | None = None, **options) -> None:
        super().__init__(path, sidecar, **options)
        self.target = artifact_type(self.path).target
        if self.target not in ("tflite", "onnx", "executorch"):
            raise BadInput(f"--arch arm64 runs .tflite, .onnx and .pte; {self.path.name} is a {self.target} artifact, "
                           "which has no ARM64 Linux runtime: check it on the host")
        if self.output_names is not None:
            raise RuntimeUnavailable(f"{self.path.name} has several outputs ({', '.join(self.output_names)}); the emulated ARM64 check runs single-output artifacts: check it on the host")
        self.threads, self.xnnpack = threads, xnnpack
        self.userland: Userland = userland(progress)
        self.components = COMPONENTS.get(self.target, ())
        self.cpu = emulated_cpu(self.target)
        for name in self.components:
            component(self.userland, name, progress)
        self.info: dict = {}

    @property
    def xnnpack_flags(self) -> str | None:
        """The XNNPACK delegate made through its C API: "force-fp16" for fp16 LiteRT artifacts (as
        ARMv8.2 phones run them) unless the `xnnpack_flags` option says otherwise; None: LiteRT's own."""
        if "xnnpack_flags" in self.options:
            return self.options["xnnpack_flags"]
        fp16 = self.target == "tflite" and self.sidecar is not None and self.sidecar.precision == "fp16"
        return "force-fp16" if fp16 else None

    @property
    def emulated_host(self) -> str:
        """Where the outputs come from, with the emulated CPU model of this artifact's target."""
        return f"Linux aarch64, emulated (qemu -cpu {self.cpu})"

    @property
    def runtime(self) -> str | None:
        """The runtime and its version, as the last run reported it (None before a run)."""
        return self.info.get("runtime")

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.run_all(batch)

    def run_all(self, images: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Outputs for all images from one emulated run; `batch_size` is the artifact's own."""
        with tempfile.TemporaryDirectory(prefix="mvedge-arm64-") as folder:
            inputs, outputs, info = (Path(folder) / name for name in ("inputs.npy", "outputs.npy", "info.json"))
            np.save(inputs, np.ascontiguousarray(images, dtype=np.float32))
            args = ["run", self.target, str(self.path.absolute()), str(inputs), str(outputs), str(info)]
            if self.sidecar is not None:
                args += ["--layout", self.sidecar.input.layout]
            if self.threads:
                args += ["--threads", str(self.threads)]
            if not self.xnnpack:
                args.append("--no-xnnpack")
            elif self.xnnpack_flags:
                args += ["--xnnpack-flags", self.xnnpack_flags]
            start = time.perf_counter()
            done = self.userland.run(*args, components=self.components, cpu=self.cpu)
            seconds = time.perf_counter() - start
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
                raise Failed(f"the emulated ARM64 run of {self.path.name} failed: {last}")
            result = np.load(outputs)
            self.info = json.loads(info.read_text())
        self.info["emulation_seconds"] = round(seconds, 1)
        return result

    def describe(self) -> dict:
        """What ran: runtime version, kernels, the emulated CPU and its features, emulation time."""
        manifest = self.userland.manifest
        facts = {
            "arch": "arm64",
            "runtime": self.info.get("runtime"),
            "kernels": self.info.get("delegate"),
            "emulator": manifest["qemu"],
            "cpu": f"qemu -cpu {self.cpu}",
            "cpu_features": self.info.get("cpu_features", manifest["cpu_features"]),
            "emulation_seconds": self.info.get("emulation_seconds"),
        }
        if self.cpu != EMULATED_CPU:
            facts["cpu_note"] = SME_NOTE
        if self.target == "executorch":
            facts["libtorch"] = (f"torch {self.info.get('torch')} (PyPI's aarch64 build, a CUDA one: loaded because the runtime links "
                                 f"libtorch, its CUDA never called; import {self.info.get('import_seconds')} s emulated)")
        if "fp16_effect_max_abs" in self.info:
            facts["fp16_arithmetic"] = FP16_NOTE.format(effect=self.info["fp16_effect_max_abs"])
        return facts
