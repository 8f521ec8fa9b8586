"""The ARM64 userland's preparation: refusals before any download, the pinned lock, sha256 checks,
the cache folder, and the guest's CPU feature names."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from mvedge.errors import BadInput, Failed
from mvedge.verify.arm64 import guest, userland


def test_missing_apt_get_is_one_line_naming_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    real = shutil.which
    monkeypatch.setattr(userland.shutil, "which", lambda tool: None if tool == "apt-get" else real(tool))
    with pytest.raises(BadInput, match=r"needs apt-get .*Debian 12"):
        userland.userland()
    assert not (tmp_path / "mvedge").exists()  # refused before anything was made


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs Debian's dpkg-deb")
def test_a_failing_step_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(Failed, match=r"^preparing the ARM64 userland: dpkg-deb failed \(.+\); check"):
        userland._run(["dpkg-deb", "-x", str(tmp_path / "missing.deb"), str(tmp_path)], "dpkg-deb")
    with pytest.raises(BadInput, match="apt-get install no-such-tool"):
        userland._run(["no-such-tool-here"], "no-such-tool")


def test_sha256_mismatch_and_missing_download_fail(tmp_path: Path) -> None:
    wheel = tmp_path / "a.whl"
    wheel.write_bytes(b"wheel")
    userland.check_sha256(wheel, hashlib.sha256(b"wheel").hexdigest())
    with pytest.raises(Failed, match="not the pinned"):
        userland.check_sha256(wheel, hashlib.sha256(b"other").hexdigest())
    with pytest.raises(Failed, match="was not downloaded"):
        userland.check_sha256(tmp_path / "b.whl", "0" * 64)


def test_every_wheel_is_pinned_by_version_and_sha256() -> None:
    lock = userland.read_lock()
    assert set(lock["wheels"]) == {"numpy", "ai-edge-litert", "onnxruntime"}
    for name, pin in lock["wheels"].items():
        assert re.fullmatch(r"[0-9a-f]{64}", pin["sha256"]), name
        assert pin["file"].startswith(f"{name.replace('-', '_')}-{pin['version']}-cp311-cp311-"), name
        assert "aarch64" in pin["file"], name
    assert {"python3.11-minimal", "libpython3.11-stdlib", "libc6"} <= set(lock["debian"]["arm64_packages"])


def test_cache_folder_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert userland.cache_root() == tmp_path / "mvedge" / "arm64"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert userland.cache_root() == Path.home() / ".cache" / "mvedge" / "arm64"


def test_a_prepared_userland_is_reused_without_tools(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = userland.cache_root() / userland._lock_digest()
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text('{"cpu": "max"}')
    monkeypatch.setattr(userland.shutil, "which", lambda tool: None)
    assert userland.userland().folder == folder


def test_fake_cpu_files_describe_one_cpu(tmp_path: Path) -> None:
    userland._fake_cpu_files(tmp_path, ["fp", "asimd", "asimddp"])
    assert (tmp_path / "sys/devices/system/cpu/possible").read_text() == "0\n"
    cpuinfo = (tmp_path / "proc/cpuinfo").read_text()
    assert "Features\t: fp asimd asimddp\n" in cpuinfo and cpuinfo.count("processor") == 1
    assert int((tmp_path / "sys/devices/system/cpu/cpu0/regs/identification/midr_el1").read_text(), 16) >> 4 & 0xFFF == 0x051  # part 'Q', as /proc/cpuinfo


def test_hwcap_bits_decode_to_linux_names() -> None:
    # bit 0 fp, 1 asimd, 20 asimddp; hwcap2 bit 1 sve2, 13 i8mm
    assert guest.feature_names(1 | 2 | 1 << 20, 1 << 1 | 1 << 13) == ["fp", "asimd", "asimddp", "sve2", "i8mm"]
    assert guest.feature_names(0, 0) == []
    assert len(guest.HWCAP_NAMES) == 32


def test_the_executorch_component_is_pinned_and_keeps_only_what_the_loader_needs() -> None:
    pins = userland.read_lock()["components"]["executorch"]
    assert {"torch", "executorch"} <= set(pins["wheels"]) and pins["wheels"]["torch"]["version"] == "2.13.0"
    for name, pin in pins["wheels"].items():
        assert re.fullmatch(r"[0-9a-f]{64}", pin["sha256"]), name
        assert pin["file"].endswith(("aarch64.whl", "-none-any.whl")), name
        if name.startswith("nvidia-"):  # CUDA libraries libtorch names as NEEDED: those files only
            assert pin["extract"] and all(re.fullmatch(r"nvidia/[a-z0-9]+/lib/lib[\w.+-]+\.so\.\d+", m) for m in pin["extract"]), name
    assert "libcudart.so.13" in " ".join(pins["wheels"]["nvidia-cuda-runtime"]["extract"])


def test_a_prepared_component_is_reused_and_names_its_folder_after_its_pins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    made = userland.Userland(tmp_path / "ready")
    site = made.component_site("executorch")
    assert site.parent.name == f"executorch-{userland._component_digest('executorch')}"
    site.mkdir(parents=True)
    monkeypatch.setattr(userland, "_download_wheels", lambda *a: pytest.fail("downloaded again"))
    assert userland.component(made, "executorch") == site
    assert made.environment(("executorch",))["PYTHONPATH"] == f"{made.site}:{site}"
    assert made.environment()["PYTHONPATH"] == str(made.site)


def test_a_component_without_room_is_refused_before_any_download(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    userland.cache_root().mkdir(parents=True)
    made = userland.Userland(userland.cache_root() / "ready")
    monkeypatch.setattr(userland.shutil, "disk_usage", lambda path: SimpleNamespace(free=10**9))
    monkeypatch.setattr(userland, "_download_wheels", lambda *a: pytest.fail("downloaded"))
    with pytest.raises(Failed, match=r"^the ARM64 userland's optional component needs about \d+\.\d GB free .* has 1\.0 GB; free some space"):
        userland.component(made, "executorch")
    assert not (made.folder / "components").exists()
