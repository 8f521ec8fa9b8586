"""Writing output so that nothing partial is ever left: a temporary file or staging folder beside
the destination, renamed into place only when the work succeeded."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


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


@contextmanager
def staging_folder(parent: str | os.PathLike, prefix: str = ".mvedge-") -> Iterator[Path]:
    """A temporary folder inside `parent` for multi-file output; removed with whatever is left in
    it when the block ends (what succeeded was moved out with `move_into_place`)."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def move_into_place(source: str | os.PathLike, destination: str | os.PathLike) -> None:
    """Rename `source` onto `destination`, replacing a file or a folder (an .mlpackage) there."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.is_dir() and not destination.is_symlink():
        shutil.rmtree(destination)
    os.replace(source, destination)
