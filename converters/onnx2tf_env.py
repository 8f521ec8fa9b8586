"""The side Python environment that runs onnx2tf 2.x for `--via onnx2tf`.

onnx2tf 2.x needs Python >= 3.12 and pins its own numpy/onnx/onnxruntime, so it never enters the
main environment: mvedge finds a Python >= 3.12 on the machine, makes a virtual environment for it
once under the user's cache folder, installs the hash-pinned onnx2tf_requirements.txt there and
runs the conversion in it as a subprocess (converters/onnx2tf_runner.py).
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from converters.base import BadRequest, ConversionError
from mvedge.progress import Progress

ONNX2TF_VERSION = "2.6.9"
MIN_PYTHON = (3, 12)
ENV_VARIABLE = "MVEDGE_ONNX2TF_PYTHON"
REQUIREMENTS = Path(__file__).with_name("onnx2tf_requirements.txt")
READY = ".mvedge-ready"  # written last: an environment without it is unfinished and rebuilt
INSTALL_TIMEOUT_S = 1800
PATH_NAMES = tuple(f"python3.{minor}" for minor in range(12, 20))
SEARCHED = f"--onnx2tf-python, ${ENV_VARIABLE}, python3.12/python3.13/... on PATH, pyenv's versions 3.12+"


@dataclass(frozen=True)
class SideEnvironment:
    """A ready virtual environment with onnx2tf: its interpreter and what it was made from."""

    python: Path
    base_python: Path
    python_version: str
    folder: Path


def cache_folder() -> Path:
    """Where side environments live: $XDG_CACHE_HOME/mvedge/onnx2tf, else ~/.cache/mvedge/onnx2tf."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "mvedge" / "onnx2tf"


def python_version(python: str | os.PathLike) -> tuple[int, int, int] | None:
    """(major, minor, micro) of an interpreter, by running it; None when it does not run."""
    try:
        done = subprocess.run(
            [str(python), "-I", "-c", "import sys; print(*sys.version_info[:3])"],
            capture_output=True, text=True, timeout=60,
        )
        major, minor, micro = (int(part) for part in done.stdout.split())
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    return (major, minor, micro) if done.returncode == 0 else None


def candidates() -> list[str]:
    """Interpreters to try when none is named, in order: python3.12, python3.13, ... on PATH,
    then pyenv's ($PYENV_ROOT or ~/.pyenv) versions 3.12 and newer."""
    found = [path for name in PATH_NAMES if (path := shutil.which(name))]
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    for folder in sorted(glob.glob(str(pyenv / "3.1[2-9]*"))):
        for name in ("python3", "python"):
            if (Path(folder) / "bin" / name).is_file():
                found.append(str(Path(folder) / "bin" / name))
                break
    return list(dict.fromkeys(found))


def find_python(named: str | None = None) -> tuple[Path, str]:
    """(interpreter, version) of a Python >= 3.12: the one named (--onnx2tf-python, else
    $MVEDGE_ONNX2TF_PYTHON), which must be one, else the first of `candidates()` that is;
    BadRequest naming the fix when there is none."""
    named = named or os.environ.get(ENV_VARIABLE) or None
    if named:
        version = python_version(named)
        if version is None or version[:2] < MIN_PYTHON:
            what = "does not run" if version is None else f"is Python {'.'.join(map(str, version))}"
            raise BadRequest(f"the onnx2tf Python {named} {what}; onnx2tf 2.x needs Python >= 3.12: name one with --onnx2tf-python PATH")
        return Path(named), ".".join(map(str, version))
    for path in candidates():
        version = python_version(path)
        if version is not None and version[:2] >= MIN_PYTHON:
            return Path(path), ".".join(map(str, version))
    raise BadRequest(
        f"via=onnx2tf runs onnx2tf 2.x, which needs Python >= 3.12, and none was found (searched {SEARCHED}); "
        "install one (e.g. pyenv install 3.12) and pass --onnx2tf-python PATH, or use via=litert-torch"
    )


def environment_folder(base_python: Path, version: str) -> Path:
    """The side environment for this interpreter and these pins: a new pin set or another
    interpreter gets a new folder, so an old environment is never half-updated."""
    key = hashlib.sha256(REQUIREMENTS.read_bytes() + str(base_python.resolve()).encode()).hexdigest()[:12]
    minor = ".".join(version.split(".")[:2])
    return cache_folder() / f"onnx2tf-{ONNX2TF_VERSION}-py{minor}-{key}"


def venv_python(folder: Path) -> Path:
    """The interpreter inside a virtual environment."""
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_environment(progress: Progress, named: str | None = None) -> SideEnvironment:
    """The side environment, made on first use (a Python >= 3.12 found by `find_python`, a venv
    in `environment_folder`, the pinned requirements installed); one process builds it at a time."""
    base, version = find_python(named)
    folder = environment_folder(base, version)
    env = SideEnvironment(venv_python(folder), base, version, folder)
    if (folder / READY).is_file():
        return env
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _lock(folder.with_name(folder.name + ".lock"), progress):
        if (folder / READY).is_file():  # another process built it while this one waited
            return env
        shutil.rmtree(folder, ignore_errors=True)  # an unfinished one (interrupted, failed)
        try:
            _build(base, version, folder, progress)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        (folder / READY).write_text(f"onnx2tf {ONNX2TF_VERSION}, Python {version} ({base})\n")
    return env


@contextmanager
def _lock(path: Path, progress: Progress) -> Iterator[None]:
    """An exclusive lock on `path` across processes, held while building (flock; msvcrt on Windows)."""
    with open(path, "a+b") as handle:
        if os.name == "nt":
            import msvcrt

            while True:
                try:
                    msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)  # retries for 10 s, then raises
                    break
                except OSError:
                    progress.note("waiting for another mvedge process to finish the onnx2tf environment")
            try:
                yield
            finally:
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
            return
        import fcntl

        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress.note("waiting for another mvedge process to finish the onnx2tf environment")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(base: Path, version: str, folder: Path, progress: Progress) -> None:
    """Create the venv and install the pinned requirements into it, with a progress line per package."""
    with progress.stage(f"creating the onnx2tf environment (Python {version}) in {folder}"):
        done = subprocess.run([str(base), "-I", "-m", "venv", str(folder)], capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise ConversionError(
                f"could not create a virtual environment with {base} ({_last_line(done.stderr or done.stdout)}); "
                "install its venv module (e.g. apt install python3.12-venv) or name another with --onnx2tf-python PATH"
            )
    command = [
        str(venv_python(folder)), "-I", "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
        "--require-hashes", "--only-binary", ":all:", "-r", str(REQUIREMENTS),
    ]
    total = sum(1 for line in REQUIREMENTS.read_text().splitlines() if "==" in line and not line.startswith("#"))
    with progress.stage(f"installing onnx2tf {ONNX2TF_VERSION} and its {total - 1} pinned dependencies (once)"):
        log = _run_pip(command, total, progress)
    if log is not None:
        raise ConversionError(
            f"could not install onnx2tf {ONNX2TF_VERSION} into {folder} (pip: {log}); "
            "check the network or pip's proxy/index settings and retry, or use via=litert-torch"
        )


def _run_pip(command: list[str], total: int, progress: Progress) -> str | None:
    """Run pip, printing 'k/total name==version' as it collects each package; None when it
    succeeded, else the last line of its error output."""
    lines: list[str] = []
    count = 0
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as exc:
        return str(exc)
    assert process.stdout is not None
    for line in process.stdout:
        line = line.rstrip()
        lines.append(line)
        if line.startswith(("Collecting ", "Processing ")):
            count += 1
            progress.note(f"  {count}/{total} {line.split()[1]}")
        elif line.startswith("Installing collected packages"):
            progress.note("  installing ...")
    try:
        code = process.wait(timeout=INSTALL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        return f"did not finish in {INSTALL_TIMEOUT_S} s"
    if code == 0:
        return None
    errors = [line for line in lines if line.startswith("ERROR")]
    return _last_line("\n".join(errors or lines)) or f"exit status {code}"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip() and "is ignored" not in line]
    return lines[-1][:300] if lines else ""


def runner_environment() -> dict[str, str]:
    """The side interpreter's environment: the caller's, less what would point it at the main
    environment's packages."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def describe(env: SideEnvironment) -> dict[str, str]:
    """What a sidecar records about the side environment."""
    return {"onnx2tf": ONNX2TF_VERSION, "python": env.python_version, "requirements": REQUIREMENTS.name}

