"""Writing output so that nothing partial is ever left: a temporary file or staging folder beside
the destination, renamed into place only when the work succeeded."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from mvedge.errors import BadInput

STAGING_PREFIX = ".mvedge-"
_OWNER = re.compile(r"^\.mvedge-(?:[a-z]+-)*?(\d+)-")  # ".mvedge-[kind-]<pid>-<random>": the owner's pid


def _usual_permissions(path: str | os.PathLike) -> None:
    """mkstemp makes 0600 files; give the permissions a plain open() would (0666 less the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


@contextmanager
def atomic_file(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside `path` to write; on success it is renamed onto `path`, on any
    error (Ctrl-C included) it is removed and `path` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        _usual_permissions(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_stale_staging(parent: str | os.PathLike) -> list[Path]:
    """Remove the staging folders in `parent` left by a process that is gone (killed with SIGKILL,
    a power cut): their name carries the owner's pid. Those of a live process, and folders without
    an owner pid, are left alone. Returns what was removed."""
    parent = Path(parent)
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    for entry in parent.iterdir():
        match = _OWNER.match(entry.name)
        if match and entry.is_dir() and not entry.is_symlink() and not _alive(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _missing_folders(path: Path) -> list[Path]:
    """`path` and its ancestors that do not exist yet, innermost first."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


@contextmanager
def staging_folder(parent: str | os.PathLike, prefix: str = STAGING_PREFIX) -> Iterator[Path]:
    """A temporary folder inside `parent` for multi-file output, named after this process's pid so a
    later run can clear it if this process is killed; removed with whatever is left in it when the
    block ends (what succeeded was moved out with `move_into_place`). Folders made for it that are
    still empty then (the work failed) are removed too, so a failed run leaves no empty --out."""
    parent = Path(parent)
    created = _missing_folders(parent.absolute())
    parent.mkdir(parents=True, exist_ok=True)
    clear_stale_staging(parent)
    staging = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in created:  # innermost first
            try:
                folder.rmdir()  # only when empty
            except OSError:
                break


def check_output_folder(path: str | os.PathLike, option: str = "--out") -> None:
    """Refuse, before any work, an output folder that cannot be made or written: `path` (or the
    nearest existing folder above it) is a file, or is not writable. Creates nothing."""
    path = Path(path)
    existing = path.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "is a file" if existing == path.absolute() else f"is under {existing}, which is a file"
        raise BadInput(f"{option} {path} {where}, not a folder; choose a folder with {option}")
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".mvedge-probe-"):
            pass
    except OSError as exc:
        raise BadInput(f"{option} {path}: cannot write in {existing} ({exc.strerror or type(exc).__name__}); choose a writable folder with {option}") from exc


def check_output_file(path: str | os.PathLike, option: str = "--out") -> None:
    """As `check_output_folder`, for an output file: it must not be a folder, and its folder
    must be writable."""
    path = Path(path)
    if path.is_dir():
        raise BadInput(f"{option} {path} is a folder, not a file; name a file with {option}")
    check_output_folder(path.parent, option)


def move_into_place(source: str | os.PathLike, destination: str | os.PathLike) -> None:
    """Rename `source` onto `destination`, replacing a file or a folder (an .mlpackage) there."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.is_dir() and not destination.is_symlink():
        shutil.rmtree(destination)
    os.replace(source, destination)
