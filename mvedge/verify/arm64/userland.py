"""The emulated ARM64 userland `--arch arm64` runs artifacts in: Debian's qemu-user-static and arm64
python3.11 (.deb packages unpacked, no root, no binfmt) plus the pinned aarch64 wheels, and optional
components (ExecuTorch's runtime, which needs torch) fetched only when an artifact needs them.

Prepared once under the user's cache folder ($XDG_CACHE_HOME or ~/.cache, then mvedge/arm64),
under a lock, with progress lines; reused afterwards. Nothing is installed into the host's Python
or system: apt-get runs with a private state and cache folder, pip only downloads.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from mvedge.atomic import clear_stale_staging, move_into_place, staging_folder
from mvedge.errors import BadInput, Failed
from mvedge.progress import Progress

LOCK_FILE = Path(__file__).with_name("lock.json")
GUEST_SCRIPT = Path(__file__).with_name("guest.py")
EMULATED_CPU = "max"
"""qemu's `-cpu max`: every ARMv8/v9 feature qemu implements (dot product, fp16 arithmetic, i8mm, SVE2...)."""


def read_lock() -> dict:
    """The pinned versions and sha256 of everything the userland is made of."""
    return json.loads(LOCK_FILE.read_text())


def cache_root() -> Path:
    """Where userlands live: $XDG_CACHE_HOME/mvedge/arm64, else ~/.cache/mvedge/arm64."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mvedge" / "arm64"


def _lock_digest() -> str:
    """Names the userland after its pins in the lock file (the optional components' pins left out:
    they name their own folders), so a changed lock prepares a fresh one."""
    base = {key: value for key, value in read_lock().items() if key != "components"}
    return hashlib.sha256(json.dumps(base, sort_keys=True).encode()).hexdigest()[:12]


def _component_digest(name: str) -> str:
    """Names a component's folder after its wheels' pins."""
    return hashlib.sha256(json.dumps(read_lock()["components"][name]["wheels"], sort_keys=True).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Userland:
    """A prepared userland: the qemu binary, the arm64 root and the unpacked wheels."""

    folder: Path

    @property
    def qemu(self) -> Path:
        return self.folder / "qemu" / "usr" / "bin" / "qemu-aarch64-static"

    @property
    def root(self) -> Path:
        return self.folder / "root"

    @property
    def site(self) -> Path:
        return self.folder / "site"

    @property
    def manifest(self) -> dict:
        """What was installed: Debian package versions, wheels, qemu version, emulated CPU features."""
        return json.loads((self.folder / "manifest.json").read_text())

    def component_site(self, name: str) -> Path:
        """Where an optional component's packages are unpacked (see `component`)."""
        return self.folder / "components" / f"{name}-{_component_digest(name)}" / "site"

    def command(self, *args: str, cpu: str = EMULATED_CPU) -> list[str]:
        """The command line running guest.py with `args` on the emulated CPU (qemu's -cpu `cpu`)."""
        return [str(self.qemu), "-cpu", cpu, "-L", str(self.root), str(self.root / "usr" / "bin" / "python3.11"), "-s", str(GUEST_SCRIPT), *args]

    def environment(self, components: tuple[str, ...] = ()) -> dict[str, str]:
        """A clean environment for the guest: only its own packages (and the named components') on the path."""
        path = os.pathsep.join([str(self.site), *(str(self.component_site(name)) for name in components)])
        return {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/"), "PYTHONPATH": path, "PYTHONNOUSERSITE": "1", "LANG": "C.UTF-8"}

    def run(self, *args: str, components: tuple[str, ...] = (), cpu: str = EMULATED_CPU) -> subprocess.CompletedProcess:
        """Run guest.py with `args` (and the named components on its path) on qemu's -cpu `cpu`;
        stdout and stderr captured."""
        return subprocess.run(self.command(*args, cpu=cpu), env=self.environment(components), capture_output=True, text=True)


def userland(progress: Progress | None = None) -> Userland:
    """The userland for this lock file, prepared first when it is not there yet."""
    root = cache_root()
    ready = Userland(root / _lock_digest())
    if (ready.folder / "manifest.json").is_file():
        return ready
    _require_tools()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another mvedge preparing the same folder: wait for it
        if (ready.folder / "manifest.json").is_file():
            return ready
        clear_stale_staging(root)
        _prepare(ready.folder, progress or Progress("arm64"))
    return ready


def component(made: Userland, name: str, progress: Progress | None = None) -> Path:
    """The site folder of an optional component of the userland (its lock entry under
    "components"), downloaded and unpacked first when it is not there yet."""
    site = made.component_site(name)
    if site.is_dir():
        return site
    pins = read_lock()["components"][name]
    progress = progress or Progress("arm64")
    _require_space(site.parent.parent, pins)
    with open(cache_root() / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if site.is_dir():
            return site
        with staging_folder(site.parent.parent) as staging:
            megabytes = sum(pin["mb"] for pin in pins["wheels"].values())
            progress.note(f"adding {name} to the ARM64 userland (once; {megabytes / 1000:.1f} GB to download: {pins['note']})")
            with progress.stage(f"downloading {name}'s aarch64 wheels (sha256 checked)"):
                wheels = _download_wheels(pins, staging / "wheels")
            with progress.stage(f"unpacking {name}'s wheels"):
                for wheel, pin in zip(wheels, pins["wheels"].values()):
                    with zipfile.ZipFile(wheel) as archive:
                        archive.extractall(staging / "site", members=pin.get("extract"))
                    wheel.unlink()  # frees the space as it goes
            shutil.rmtree(staging / "wheels")
            size = round(sum(f.stat().st_size for f in (staging / "site").rglob("*") if f.is_file()) / 1e6, 1)
            (staging / "site" / f"mvedge-{name}.json").write_text(json.dumps({"wheels": {n: pin["version"] for n, pin in pins["wheels"].items()}, "size_mb": size}, indent=2) + "\n")
            move_into_place(staging / "site", site)
    progress.note(f"{name} added to the ARM64 userland ({size} MB); remove {site.parent} to free it")
    return site


def _require_space(folder: Path, pins: dict) -> None:
    """A component's wheels and their unpacked files must fit: refused before any download."""
    needed = 2.5 * sum(pin["mb"] for pin in pins["wheels"].values()) * 1e6
    free = shutil.disk_usage(folder if folder.exists() else cache_root()).free
    if free < needed:
        raise Failed(f"the ARM64 userland's optional component needs about {needed / 1e9:.1f} GB free under {cache_root()}, "
                     f"which has {free / 1e9:.1f} GB; free some space (or set XDG_CACHE_HOME elsewhere) and rerun")


def _require_tools() -> None:
    """apt-get and dpkg-deb fetch and unpack Debian's packages; pip downloads the wheels."""
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise BadInput(f"--arch arm64 needs {tool} to prepare its ARM64 userland from Debian's packages; run it on Debian 12 (or in a Debian 12 container)")
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode != 0:
        raise BadInput(f"--arch arm64 downloads its aarch64 wheels with pip, which {sys.executable} lacks: python -m ensurepip")


def _prepare(destination: Path, progress: Progress) -> None:
    """Download, check and unpack everything into a staging folder, then move it into place."""
    lock = read_lock()
    progress.note(f"preparing the ARM64 userland in {destination} (once; about 120 MB to download)")
    with staging_folder(destination.parent) as staging:
        apt_state = staging / "apt"  # only needed while preparing
        with progress.stage("Debian's package index (amd64 and arm64)"):
            host_arch = _run(["dpkg", "--print-architecture"], "dpkg").strip()
            _apt(apt_state / host_arch, host_arch, ["update"])
            _apt(apt_state / "arm64", "arm64", ["update"])
        with progress.stage("downloading qemu-user-static and arm64 python3.11"):
            (staging / "debs" / "host").mkdir(parents=True)
            (staging / "debs" / "arm64").mkdir(parents=True)
            _apt(apt_state / host_arch, host_arch, ["download", *lock["debian"]["host_packages"]], cwd=staging / "debs" / "host")
            _apt(apt_state / "arm64", "arm64", ["download", *lock["debian"]["arm64_packages"]], cwd=staging / "debs" / "arm64")
        with progress.stage("unpacking the .deb packages"):
            debian = {}
            for folder, target in (("host", "qemu"), ("arm64", "root")):
                for deb in sorted((staging / "debs" / folder).glob("*.deb")):
                    _run(["dpkg-deb", "-x", str(deb), str(staging / target)], "dpkg-deb")
                    package, version = _run(["dpkg-deb", "-f", str(deb), "Package", "Version"], "dpkg-deb").splitlines()
                    debian[package.split(":", 1)[1].strip()] = version.split(":", 1)[1].strip()
        for other in (staging / "qemu").rglob("*"):  # the package holds every qemu target; keep aarch64's
            if other.is_file() and other.name != "qemu-aarch64-static":
                other.unlink()
        with progress.stage("downloading the aarch64 wheels (sha256 checked)"):
            wheels = _download_wheels(lock, staging / "wheels")
            for path in wheels:
                with zipfile.ZipFile(path) as archive:
                    archive.extractall(staging / "site")
        _fake_cpu_files(staging / "root", [])
        made = Userland(staging)
        with progress.stage("probing the emulated CPU"):
            features = _probe(made, staging / "probe.json")
        _fake_cpu_files(staging / "root", features)
        shutil.rmtree(staging / "apt")
        shutil.rmtree(staging / "debs")
        shutil.rmtree(staging / "wheels")
        manifest = {
            "qemu": _run([str(made.qemu), "--version"], "qemu-aarch64-static").splitlines()[0],
            "cpu": EMULATED_CPU,
            "cpu_features": features,
            "debian_packages": debian,
            "wheels": {name: pin["version"] for name, pin in lock["wheels"].items()},
            "size_mb": round(sum(f.stat().st_size for f in staging.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6, 1),
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        move_into_place(staging, destination)
    progress.note(f"ARM64 userland ready ({manifest['size_mb']} MB); remove {destination.parent} to free it")


def _run(command: list[str], tool: str, cwd: Path | None = None) -> str:
    """Run a preparation step; a failure is one line naming the step."""
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise BadInput(f"--arch arm64 needs {tool} to prepare its ARM64 userland; install it (Debian: apt-get install {tool})") from exc
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise Failed(f"preparing the ARM64 userland: {tool} failed ({last}); check the network and Debian's apt sources, then rerun")
    return done.stdout


def _apt(state: Path, arch: str, args: list[str], cwd: Path | None = None) -> None:
    """apt-get with a private state and cache folder (no root, the host's apt untouched), reusing
    the host's configured sources; `arch` picks which architecture's packages it sees."""
    (state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    options = [
        "-o", f"Dir::State={state}", "-o", f"Dir::State::status={state / 'status'}", "-o", f"Dir::Cache={state / 'cache'}",
        "-o", f"APT::Architecture={arch}", "-o", f"APT::Architectures={arch}", "-o", "Debug::NoLocking=1", "-q",
    ]
    (state / "status").touch()
    _run(["apt-get", *options, *args], "apt-get", cwd=cwd)


def _download_wheels(lock: dict, folder: Path) -> list[Path]:
    """pip downloads the pinned wheels (hashes required), and each file's sha256 is checked again;
    `lock` is the lock file or one component's entry (its own wheels and platforms)."""
    folder.mkdir(parents=True)
    requirements = folder / "requirements.txt"
    requirements.write_text("".join(f"{name}=={pin['version']} --hash=sha256:{pin['sha256']}\n" for name, pin in lock["wheels"].items()))
    platforms = [arg for platform in lock["wheel_platforms"] for arg in ("--platform", platform)]
    _run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", *platforms,
          "--python-version", read_lock()["python_version"], "--implementation", "cp", "--require-hashes", "-r", str(requirements), "-d", str(folder)], "pip")
    wheels = []
    for name, pin in lock["wheels"].items():
        path = folder / pin["file"]
        check_sha256(path, pin["sha256"])
        wheels.append(path)
    return wheels


def check_sha256(path: Path, expected: str) -> None:
    """Failed when a downloaded file is missing or its sha256 is not the pinned one."""
    if not path.is_file():
        raise Failed(f"preparing the ARM64 userland: {path.name} was not downloaded; check the network and rerun")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise Failed(f"preparing the ARM64 userland: {path.name} has sha256 {digest}, not the pinned {expected}; remove {path.parent} and rerun")


def _probe(made: Userland, info: Path) -> list[str]:
    """The emulated CPU's features, as its (emulated) kernel reports them to a process."""
    done = made.run("probe", str(info))
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise Failed(f"preparing the ARM64 userland: the emulated python3.11 does not start ({last})")
    return json.loads(info.read_text())["cpu_features"]


def _fake_cpu_files(root: Path, features: list[str]) -> None:
    """qemu 7.2 shows ARM64 programs the host's x86 /proc/cpuinfo and CPU list, on which
    onnxruntime's cpuinfo crashes; qemu's -L reads these files from the root first, so they
    describe one CPU of qemu's `max` model (implementer 0, part 'Q') with the features it has."""
    cpus = root / "sys" / "devices" / "system" / "cpu"
    cpus.mkdir(parents=True, exist_ok=True)
    for name in ("possible", "present", "online"):
        (cpus / name).write_text("0\n")
    midr = cpus / "cpu0" / "regs" / "identification"  # read by torch's oneDNN and ExecuTorch's cpuinfo
    midr.mkdir(parents=True, exist_ok=True)
    (midr / "midr_el1").write_text("0x00000000000f0510\n")
    (root / "proc").mkdir(exist_ok=True)
    (root / "proc" / "cpuinfo").write_text(
        "processor\t: 0\nBogoMIPS\t: 100.00\n"
        f"Features\t: {' '.join(features)}\n"
        "CPU implementer\t: 0x00\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0x051\nCPU revision\t: 0\n\n"
    )
