"""mvedge.atomic: output appears whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mvedge.atomic import atomic_file, move_into_place, staging_folder


def test_atomic_file_renames_on_success_with_the_usual_permissions(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.json"
    with atomic_file(target) as tmp:
        assert tmp.parent == target.parent and not target.exists()
        tmp.write_text("whole")
    assert target.read_text() == "whole"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_atomic_file_leaves_the_old_file_and_no_temporary_on_failure(tmp_path: Path, error: BaseException) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(type(error)):
        with atomic_file(target) as tmp:
            tmp.write_text("half")
            raise error
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_staging_folder_is_removed_and_moved_output_stays(tmp_path: Path) -> None:
    (tmp_path / "model.mlpackage").mkdir()
    (tmp_path / "model.mlpackage" / "old").write_text("old")
    with staging_folder(tmp_path) as staging:
        (staging / "model.mlpackage").mkdir()
        (staging / "model.mlpackage" / "new").write_text("new")
        move_into_place(staging / "model.mlpackage", tmp_path / "model.mlpackage")
        (staging / "leftover").write_text("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.mlpackage"]
    assert [p.name for p in (tmp_path / "model.mlpackage").iterdir()] == ["new"]


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_staging_folder_names_its_owner_and_a_dead_owners_is_cleared(tmp_path: Path) -> None:
    """A run killed with SIGKILL cannot clean up: the next run into the same folder does, but never
    touches the staging folder of a process that is still running, nor other folders."""
    dead = tmp_path / f".mvedge-{_dead_pid()}-abc123"
    (dead / "model.mlpackage").mkdir(parents=True)
    bundle_dead = tmp_path / f".mvedge-bundle-{_dead_pid()}-xyz"
    bundle_dead.mkdir()
    live = tmp_path / f".mvedge-{os.getppid()}-def456"  # the parent of this test process is alive
    live.mkdir()
    unowned = tmp_path / ".mvedge-oldstyle"
    unowned.mkdir()
    with staging_folder(tmp_path) as staging:
        assert staging.name.startswith(f".mvedge-{os.getpid()}-")
        assert not dead.exists() and not bundle_dead.exists()
        assert live.is_dir() and unowned.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, unowned.name])


def test_a_failed_staging_leaves_no_folder_it_created(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b"
    with pytest.raises(RuntimeError):
        with staging_folder(out) as staging:
            (staging / "part").write_bytes(b"x")
            raise RuntimeError("conversion failed")
    assert not (tmp_path / "a").exists()
    with staging_folder(out) as staging:  # what was moved out stays, with its folders
        (staging / "done").write_bytes(b"x")
        move_into_place(staging / "done", out / "done")
    assert (out / "done").is_file() and [p.name for p in out.iterdir()] == ["done"]
