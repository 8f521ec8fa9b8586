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
