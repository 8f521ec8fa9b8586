"""The app projects as far as they can be checked without an Android SDK or Xcode: well-formed
manifests and plists, Gradle and Xcode files that name the folders `mvedge bundle` fills and the ids
of the device contract, and READMEs that state the tool versions and what was not built."""

from __future__ import annotations

import plistlib
import re
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mvedge.apps.layout import LAYOUTS
from tests.apps.conftest import ANDROID, IOS, need

ANDROID_NS = "{http://schemas.android.com/apk/res/android}"
APP_ID = "dev.mvedge.demo"
PROFILE_KEYS = {
    "schema", "artifact", "sha256", "target", "precision", "runtime", "delegate", "device", "threads", "warmup", "runs",
    "load_ms", "latency_ms", "samples_ms", "throughput_fps", "peak_memory_mb", "operators",
}
DEVICE_KEYS = {"platform", "model", "os", "abi", "source"}


def test_android_xml_is_well_formed_and_declares_the_contract() -> None:
    for path in (ANDROID / "app/src/main").rglob("*.xml"):
        ET.parse(path)  # raises on malformed XML
    manifest = ET.parse(ANDROID / "app/src/main/AndroidManifest.xml").getroot()
    activities = {a.get(ANDROID_NS + "name"): a for a in manifest.iter("activity")}
    assert set(activities) == {".MainActivity", ".BenchmarkActivity"}
    assert activities[".BenchmarkActivity"].get(ANDROID_NS + "exported") == "true"
    launcher = activities[".MainActivity"].find("intent-filter/category")
    assert launcher is not None and launcher.get(ANDROID_NS + "name") == "android.intent.category.LAUNCHER"
    assert "android.permission.CAMERA" in {p.get(ANDROID_NS + "name") for p in manifest.iter("uses-permission")}
    provider = manifest.find("application/provider")
    assert provider.get(ANDROID_NS + "authorities") == "${applicationId}.fileprovider"
    resource = provider.find("meta-data").get(ANDROID_NS + "resource")
    assert (ANDROID / "app/src/main/res" / (resource.removeprefix("@") + ".xml")).is_file()
    layout = ET.parse(ANDROID / "app/src/main/res/layout/activity_main.xml").getroot()
    ids = {e.get(ANDROID_NS + "id", "").removeprefix("@+id/") for e in layout.iter()}
    source = (ANDROID / "app/src/main/java/dev/mvedge/demo/MainActivity.kt").read_text()
    for used in re.findall(r"R\.id\.(\w+)", source):
        assert used in ids, f"MainActivity uses R.id.{used}, which activity_main.xml does not define"


def test_gradle_files_name_the_app_the_runtimes_and_the_bundled_folders() -> None:
    layout = LAYOUTS["android"]
    app_gradle = (ANDROID / "app/build.gradle.kts").read_text()
    assert f'applicationId = "{APP_ID}"' in app_gradle and f'namespace = "{APP_ID}"' in app_gradle
    assert int(re.search(r"minSdk = (\d+)", app_gradle).group(1)) >= 24
    assert int(re.search(r"compileSdk = (\d+)", app_gradle).group(1)) >= 35
    noncompressed = re.search(r"noCompress \+= listOf\(([^)]*)\)", app_gradle).group(1)
    assert '"tflite"' in noncompressed and '"pte"' in noncompressed
    # the asset folders Gradle packs are the parents of where mvedge bundle writes
    assert f'"{Path(layout.models).parent.relative_to("app")}"' in app_gradle
    assert f'"{Path(layout.contract).parent.relative_to("app")}"' in app_gradle
    catalog = tomllib.loads((ANDROID / "gradle/libs.versions.toml").read_text())
    libraries = {f"{v['group']}:{v['name']}": catalog["versions"][v["version"]["ref"]] for v in catalog["libraries"].values()}
    assert "com.google.ai.edge.litert:litert" in libraries and "org.pytorch:executorch-android" in libraries
    for alias in re.findall(r"libs\.([\w.]+)\)", app_gradle):
        if alias.startswith("plugins."):
            assert alias.removeprefix("plugins.").replace(".", "-") in catalog["plugins"], alias
        else:
            assert alias.replace(".", "-") in catalog["libraries"], f"app/build.gradle.kts uses libs.{alias}, not in the catalog"
    assert catalog["plugins"]["android-application"]["id"] == "com.android.application"
    assert int(catalog["versions"]["agp"].split(".")[0]) >= 8 and catalog["versions"]["kotlin"].startswith("2.")
    wrapper = (ANDROID / "gradle/wrapper/gradle-wrapper.properties").read_text()
    assert re.search(r"distributionUrl=.*gradle-8\.\d+(\.\d+)?-bin\.zip", wrapper)
    assert 'include(":app")' in (ANDROID / "settings.gradle.kts").read_text()
    ignored = (ANDROID / ".gitignore").read_text().splitlines()
    for folder in (layout.models, layout.samples, layout.contract):
        assert folder + "/" in ignored


# Kotlin and Swift sources are read as text: no Android SDK or Xcode runs them here (the platform-free
# Kotlin core also runs under JUnit in test_android_core.py where kotlinc is installed).
def test_android_sources_follow_the_layout_and_the_device_contract() -> None:
    java = ANDROID / "app/src/main/java/dev/mvedge/demo"
    store = (java / "ModelStore.kt").read_text()
    layout = LAYOUTS["android"]
    assert f'const val MODELS = "{Path(layout.models).name}"' in store and '"$MODELS/index.json"' in store
    assert f'const val SAMPLES = "{Path(layout.samples).name}"' in store
    instrumented = (ANDROID / "app/src/androidTest/java/dev/mvedge/demo/ContractInstrumentedTest.kt").read_text()
    assert f'"{Path(layout.contract).name}/contract.json"' in instrumented or '"contract/$path"' in instrumented
    benchmark = (java / "BenchmarkActivity.kt").read_text()
    assert 'getExternalFilesDir("benchmark")' in benchmark
    core = (java / "core/Benchmark.kt").read_text()
    for constant in ('LOG_TAG = "MVEDGE"', 'DONE = "BENCHMARK_DONE"', 'FAILED = "BENCHMARK_FAILED"', 'SCHEMA = "mvedge.profile/1"'):
        assert constant in core
    for extra in ("artifact", "runtime", "threads", "runs", "warmup", "result"):
        assert f'extras["{extra}"]' in core
    assert set(re.findall(r'json\.put\("(\w+)"', core)) == PROFILE_KEYS
    assert set(re.findall(r'd\.put\("(\w+)"', core)) == DEVICE_KEYS
    assert '"android_demo"' in benchmark


def test_ios_project_files() -> None:
    yaml = pytest.importorskip("yaml")
    layout = LAYOUTS["ios"]
    info = plistlib.loads((IOS / "MVEdgeDemo/Info.plist").read_bytes())
    assert info["CFBundleIdentifier"] == "$(PRODUCT_BUNDLE_IDENTIFIER)" and info["NSCameraUsageDescription"]
    assert info["UIFileSharingEnabled"] is True  # Documents/ (benchmark results) visible to the host
    project = yaml.safe_load((IOS / "project.yml").read_text())
    app, tests = project["targets"]["MVEdgeDemo"], project["targets"]["MVEdgeDemoTests"]
    assert app["settings"]["base"]["PRODUCT_BUNDLE_IDENTIFIER"] == APP_ID
    assert app["settings"]["base"]["INFOPLIST_FILE"] == "MVEdgeDemo/Info.plist"
    assert float(project["options"]["deploymentTarget"]["iOS"]) >= 17
    sources = {s["path"]: s for s in app["sources"]}
    assert layout.models in sources and layout.samples in sources and sources[layout.samples]["type"] == "folder"
    test_sources = {s["path"]: s for s in tests["sources"]}
    assert test_sources[layout.contract]["type"] == "folder"
    assert {"target": "MVEdgeDemo"} in tests["dependencies"]
    for target in (app, tests):
        for source in target["sources"]:
            assert (IOS / source["path"]).is_dir() or source.get("optional"), source
    package = (IOS / "Package.swift").read_text()
    assert 'name: "MVEdgeCore"' in package and 'path: "Sources/MVEdgeCore"' in package and "testTarget" in package
    store = (IOS / "MVEdgeDemo/ModelStore.swift").read_text()
    assert 'forResource: "index", withExtension: "json"' in store and 'subdirectory: "Samples"' in store
    assert 'forResource: "Contract"' in (IOS / "MVEdgeDemoTests/ContractTests.swift").read_text()
    ignored = (IOS / ".gitignore").read_text().splitlines()
    for folder in (layout.models, layout.samples, layout.contract):
        assert folder + "/" in ignored


def test_coreml_packages_carry_the_metadata_the_ios_app_falls_back_on(artifacts) -> None:
    """A package pushed without its sidecar: the app rebuilds one from these metadata keys."""
    (package,) = need(artifacts, "coreml")
    import coremltools as ct

    meta = ct.models.MLModel(str(package), skip_model_load=True).user_defined_metadata
    swift = (IOS / "Sources/MVEdgeCore/Sidecar.swift").read_text()
    read = set(re.findall(r'(?:json|meta)\("?\[?"(mvedge\.\w+)"', swift)) | set(re.findall(r'meta\["(mvedge\.\w+)"\]', swift))
    assert {"mvedge.preprocessing", "mvedge.config", "mvedge.labels", "mvedge.input_kind", "mvedge.precision"} <= read
    for key in read:
        assert key in meta, f"the iOS app reads {key}, which the Core ML converter does not write"


def test_ios_sources_follow_the_device_contract() -> None:
    core = (IOS / "Sources/MVEdgeCore/Benchmark.swift").read_text()
    for flag in ("--benchmark", "--artifact", "--runs", "--warmup", "--compute-units", "--result"):
        assert f'"{flag}"' in core
    assert '["all", "cpuOnly", "cpuAndGPU", "cpuAndNeuralEngine"]' in core
    assert 'donePrefix = "MVEDGE BENCHMARK_DONE"' in core and 'schema = "mvedge.profile/1"' in core
    body = core[core.index("func jsonObject()"):core.index("func jsonData()")]
    top = set(re.findall(r'^\s*"(\w+)":', body, flags=re.M))
    assert top == PROFILE_KEYS, top ^ PROFILE_KEYS
    assert set(re.findall(r'"(\w+)": (?:orNull\()?device\.', body)) == DEVICE_KEYS
    runner = (IOS / "MVEdgeDemo/BenchmarkRunner.swift").read_text()
    assert ".documentDirectory" in runner and '"ios_demo"' in runner


@pytest.mark.parametrize("app", [ANDROID, IOS])
def test_readme_states_versions_steps_and_what_was_not_built(app: Path) -> None:
    text = (app / "README.md").read_text()
    assert "## Tool versions" in text and "## Build" in text and "mvedge bundle --app" in text
    assert re.search(r"not (been )?(built|compiled)", text) or "Nothing in this folder was compiled" in text
    assert "mvedge.profile/1" in text and "BENCHMARK_DONE" in text
    if app == ANDROID:
        catalog = tomllib.loads((ANDROID / "gradle/libs.versions.toml").read_text())["versions"]
        for key in ("agp", "kotlin", "litert", "executorch"):
            assert catalog[key] in text, f"README does not give {key} {catalog[key]}"
        gradle = re.search(r"gradle-([\d.]+)-bin", (ANDROID / "gradle/wrapper/gradle-wrapper.properties").read_text()).group(1)
        assert f"gradle wrapper --gradle-version {gradle}" in text
        assert "adb shell am start -W -n dev.mvedge.demo/.BenchmarkActivity" in text
    else:
        assert "xcodegen generate" in text and "xcrun devicectl device process launch" in text and "xcrun simctl launch" in text
