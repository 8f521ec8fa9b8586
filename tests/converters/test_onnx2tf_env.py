"""onnx2tf 2.x's side environment: finding a Python >= 3.12, refusing without one, making the
environment once (a real one is made by the onnx2tf conversion test in test_tflite.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from converters import onnx2tf_env
from converters.base import BadRequest, ConversionError, ConvertOptions
from converters.pipeline import convert
from mvedge.cli import main as cli_main
from mvedge.errors import BadInput, Failed
from mvedge.progress import Progress

OLD_PYTHON = sys.executable  # the tests run on the main environment's Python 3.11


@pytest.fixture
def no_python_312(monkeypatch) -> None:
    """A machine whose only Python is the main environment's 3.11."""
    monkeypatch.delenv(onnx2tf_env.ENV_VARIABLE, raising=False)
    monkeypatch.setattr(onnx2tf_env, "candidates", lambda: [OLD_PYTHON])


@pytest.fixture
def cache(monkeypatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "mvedge" / "onnx2tf"


def _python_312() -> str:
    try:
        return str(onnx2tf_env.find_python()[0])
    except BadRequest as exc:
        pytest.skip(str(exc))


def test_no_python_312_is_refused_before_any_work(no_python_312, digits, tmp_path: Path) -> None:
    options = ConvertOptions("fp32", digits.image_size, extra={"via": "onnx2tf"})
    with pytest.raises(BadInput, match=r"needs Python >= 3\.12, and none was found .*pass --onnx2tf-python PATH") as caught:
        convert(digits, "tflite", "fp32", tmp_path, options, verify=False)
    assert caught.value.exit_code == 2 and "\n" not in str(caught.value)
    assert not [p for p in tmp_path.iterdir() if not p.name.startswith(".")]


def test_no_python_312_from_the_command_line(no_python_312, tmp_path: Path, capsys) -> None:
    code = cli_main(["convert", "--target", "tflite", "--via", "onnx2tf", "--out", str(tmp_path / "out"), "--no-verify"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "none was found" in err[-1] and "--onnx2tf-python" in err[-1]


def test_a_named_python_must_be_3_12_or_newer(monkeypatch) -> None:
    monkeypatch.delenv(onnx2tf_env.ENV_VARIABLE, raising=False)
    with pytest.raises(BadRequest, match=r"is Python 3\.11\..*needs Python >= 3\.12"):
        onnx2tf_env.find_python(OLD_PYTHON)
    monkeypatch.setenv(onnx2tf_env.ENV_VARIABLE, "/no/such/python3.12")
    with pytest.raises(BadRequest, match="/no/such/python3.12 does not run"):
        onnx2tf_env.find_python()


def test_search_order(monkeypatch) -> None:
    """--onnx2tf-python, then the environment variable, then PATH / pyenv."""
    python = _python_312()
    monkeypatch.setattr(onnx2tf_env, "candidates", lambda: [OLD_PYTHON, python])
    monkeypatch.delenv(onnx2tf_env.ENV_VARIABLE, raising=False)
    assert onnx2tf_env.find_python()[0] == Path(python)  # the first >= 3.12 of the candidates
    monkeypatch.setenv(onnx2tf_env.ENV_VARIABLE, OLD_PYTHON)
    with pytest.raises(BadRequest):  # the variable names one, and it is too old: no silent fallback
        onnx2tf_env.find_python()
    assert onnx2tf_env.find_python(python)[0] == Path(python)  # the option wins over the variable


def test_candidates_include_pyenv_versions(monkeypatch, tmp_path: Path) -> None:
    for version in ("3.11.7", "3.12.1", "3.13.0"):
        (tmp_path / "versions" / version / "bin").mkdir(parents=True)
        (tmp_path / "versions" / version / "bin" / "python3").write_text("")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert onnx2tf_env.candidates() == [str(tmp_path / "versions" / v / "bin" / "python3") for v in ("3.12.1", "3.13.0")]


def test_environment_made_once_and_unfinished_ones_rebuilt(cache: Path, monkeypatch) -> None:
    python = _python_312()
    builds = []

    def fake_build(base, version, folder, progress):
        builds.append(folder)
        folder.mkdir(parents=True)

    monkeypatch.setattr(onnx2tf_env, "_build", fake_build)
    env = onnx2tf_env.ensure_environment(Progress(quiet=True), python)
    assert env.folder.parent == cache and (env.folder / onnx2tf_env.READY).is_file()
    assert env.python == onnx2tf_env.venv_python(env.folder)
    onnx2tf_env.ensure_environment(Progress(quiet=True), python)
    assert len(builds) == 1  # ready: reused
    (env.folder / onnx2tf_env.READY).unlink()  # as an interrupted build leaves it
    (env.folder / "half-installed").write_text("")
    onnx2tf_env.ensure_environment(Progress(quiet=True), python)
    assert len(builds) == 2 and not (env.folder / "half-installed").exists()


def test_failed_install_is_a_one_line_failure_and_leaves_nothing(cache: Path, monkeypatch, tmp_path: Path) -> None:
    """A real venv, and pip refusing a requirement it cannot find (no index: no network needed)."""
    python = _python_312()
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("mvedge-no-such-package==0.0.1 --hash=sha256:" + "0" * 64 + "\n")
    monkeypatch.setattr(onnx2tf_env, "REQUIREMENTS", requirements)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    with pytest.raises(Failed, match=r"could not install onnx2tf 2\.6\.9 into .*\(pip: .*mvedge-no-such-package") as caught:
        onnx2tf_env.ensure_environment(Progress(quiet=True), python)
    assert isinstance(caught.value, ConversionError) and caught.value.exit_code == 1 and "\n" not in str(caught.value)
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []


def test_runner_environment_drops_the_main_environment(monkeypatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.getcwd())
    env = onnx2tf_env.runner_environment()
    assert "PYTHONPATH" not in env and env["PYTHONNOUSERSITE"] == "1"
