"""The Android app's platform-free Kotlin core and its own JUnit tests, compiled and run on the JVM
here: preprocessing against the contract vectors and against Pillow's resize, sidecar parsing, top-5,
latency statistics, benchmark extras and result JSON.

Needs a Kotlin compiler, JUnit 4, Kotlin's stdlib and Android's org.json as jars (on Debian:
`apt-get install kotlin junit4 libandroid-json-java`); skipped where they are missing. The Android
layer (activities, LiteRT/ExecuTorch calls) cannot be compiled here: no Android SDK."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mvedge.apps.layout import LAYOUTS
from tests.apps.conftest import ANDROID

JARS = {
    "junit": ["/usr/share/java/junit4.jar"],
    "hamcrest": ["/usr/share/java/hamcrest-core.jar", "/usr/share/java/hamcrest.jar"],
    "json": ["/usr/share/java/com.android.json.jar"],
    "stdlib": ["/usr/share/java/kotlin-stdlib.jar"],
}
TEST_CLASSES = ["SidecarTest", "LatencyStatsTest", "ScoresTest", "BenchmarkTest", "PreprocessorTest", "FitInkTest", "ContractVectorsTest"]
FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC, "nearest": Image.Resampling.NEAREST}


def _jar(name: str) -> str:
    found = next((p for p in JARS[name] if Path(p).is_file()), None)
    if found is None:
        pytest.skip(f"no {name} jar ({' or '.join(JARS[name])}); apt-get install kotlin junit4 libandroid-json-java")
    return found


@pytest.fixture(scope="module")
def core_jar(tmp_path_factory) -> tuple[Path, str]:
    """The core and its unit tests compiled into one jar, and the classpath to run them."""
    kotlinc = shutil.which("kotlinc")
    if kotlinc is None or shutil.which("java") is None:
        pytest.skip("no kotlinc/java (apt-get install kotlin)")
    classpath = ":".join(_jar(n) for n in ("junit", "hamcrest", "json"))
    sources = sorted((ANDROID / "app/src/main/java/dev/mvedge/demo/core").glob("*.kt")) + sorted((ANDROID / "app/src/test/java/dev/mvedge/demo/core").glob("*.kt"))
    jar = tmp_path_factory.mktemp("kotlin") / "core.jar"
    done = subprocess.run([kotlinc, "-nowarn", "-cp", classpath, *map(str, sources), "-d", str(jar)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and jar.is_file(), done.stderr[-3000:]
    return jar, ":".join([str(jar), _jar("stdlib"), classpath])


def _resize_cases(folder: Path) -> int:
    """Random pictures resized by Pillow (the reference the Kotlin resize must equal), incl. the cases
    where Pillow runs the vertical pass first, crops larger than the picture, and big up/downscales."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    sizes = [(8, 8, 128, 128), (7, 5, 16, 3), (40, 30, 13, 17), (30, 40, 17, 13), (100, 60, 37, 128), (3, 3, 224, 224), (50, 50, 45, 40), (64, 64, 64, 31)]
    sizes += [tuple(int(v) for v in rng.integers(1, 90, 4)) for _ in range(16)]
    count = 0
    for w, h, ow, oh in sizes:
        for name, resample in FILTERS.items():
            source = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            out = np.asarray(Image.fromarray(source, "RGB").resize((ow, oh), resample=resample))
            base = folder / f"{count:03d}-{name}"
            base.with_suffix(".in").write_bytes(source.tobytes())
            base.with_suffix(".out").write_bytes(out.tobytes())
            base.with_suffix(".json").write_text(json.dumps({"w": w, "h": h, "out_w": ow, "out_h": oh, "filter": name}))
            count += 1
    return count


def test_kotlin_core_passes_its_junit_tests_against_the_contract_and_pillow(core_jar, android_bundled: Path, tmp_path: Path) -> None:
    _, classpath = core_jar
    cases = _resize_cases(tmp_path / "resize")
    contract = android_bundled / LAYOUTS["android"].contract
    done = subprocess.run(
        ["java", f"-Dmvedge.contract={contract}", f"-Dmvedge.resizeCases={tmp_path / 'resize'}", "-cp", classpath,
         "org.junit.runner.JUnitCore", *[f"dev.mvedge.demo.core.{c}" for c in TEST_CLASSES]],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    assert "OK (" in done.stdout
    n_contract = sum(len(a["cases"]) for a in json.loads((contract / "contract.json").read_text())["artifacts"])
    assert f"contract: {n_contract} cases reproduced" in done.stdout, done.stdout
    assert f"resize: {cases} cases equal to Pillow" in done.stdout, done.stdout


def test_kotlin_contract_test_fails_on_a_corrupted_contract(core_jar, android_bundled: Path, tmp_path: Path) -> None:
    """The JVM contract test has teeth: one stored input value changed -> it fails."""
    _, classpath = core_jar
    contract = tmp_path / "contract"
    shutil.copytree(android_bundled / LAYOUTS["android"].contract, contract)
    case = json.loads((contract / "contract.json").read_text())["artifacts"][0]["cases"][0]
    values = np.frombuffer((contract / case["input"]).read_bytes(), dtype="<f4").copy()
    values[1000] += 0.01
    (contract / case["input"]).write_bytes(values.tobytes())
    done = subprocess.run(["java", f"-Dmvedge.contract={contract}", "-cp", classpath, "org.junit.runner.JUnitCore", "dev.mvedge.demo.core.ContractVectorsTest"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "input differs" in done.stdout, done.stdout[-2000:]
