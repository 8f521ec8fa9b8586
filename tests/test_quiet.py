"""Quiet output: `mvedge` shows its own lines only (progress, notes, the table) unless --verbose,
and a Core ML conversion does not load TensorFlow."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mvedge import quiet

MVEDGE_LINE_STARTS = ("[", "model ", "note: ", "QAT checkpoint ", "mvedge: ")
"""How mvedge's own stderr lines start: Progress lines of a target ('[coreml fp16] ...'), the
convert command's unprefixed Progress notes ('model ...', 'QAT checkpoint ...'), its notes
('note: ...') and errors ('mvedge: error: ...')."""
STAGE_LINE = re.compile(r"[a-z][^\n]* (\.\.\.|done \(\d+\.\d s\))")
"""An unprefixed Progress stage: 'loading verification images ...' / '... done (0.2 s)'."""


def _is_mvedge_line(line: str) -> bool:
    return line.startswith(MVEDGE_LINE_STARTS) or STAGE_LINE.fullmatch(line) is not None


@pytest.mark.skipif(__import__("importlib").util.find_spec("coremltools") is None, reason="needs the coreml extra")
def test_a_coreml_conversion_prints_only_mvedge_lines_and_never_loads_tensorflow(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from mvedge.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print('tensorflow loaded:', 'tensorflow' in sys.modules)\n"
        "sys.exit(code)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in quiet.ENVIRONMENT}  # quiet must not rely on the caller's
    done = subprocess.run(
        [sys.executable, "-c", code, "convert", "--target", "coreml", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600, env=env, cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "coreml  fp16       verified" in done.stdout
    foreign = [line for line in done.stderr.splitlines() if not _is_mvedge_line(line)]
    assert (foreign, done.stdout.splitlines()[-1]) == ([], "tensorflow loaded: False")
    assert "[coreml fp16] converting done" in done.stderr


@pytest.fixture()
def restored_quiet():
    """Leave the process as the test found it: verbosity, toolchain logger levels, environment."""
    levels = {name: logging.getLogger(name).level for name in quiet.TOOLCHAIN_LOGGERS}
    environment = {key: os.environ.get(key) for key in quiet.ENVIRONMENT}
    verbose = quiet.verbose()
    yield
    quiet.configure(verbose)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    for key, value in environment.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


class _Records(logging.Handler):
    """Collects the messages of the records that reach it."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture()
def coremltools_records():
    """The messages logged through a coremltools logger (as coremltools' modules log)."""
    logger = logging.getLogger("coremltools.models")
    handler = _Records()
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


def _toolchain_chatter() -> None:
    """What toolchains do while they work: print, warn, log below ERROR."""
    print("Converting PyTorch Frontend ==> MIL Ops: 100%")
    print("progress bar", file=sys.stderr)
    import warnings

    warnings.warn("Torch version 2.13.0 has not been tested with coremltools")
    logging.getLogger("coremltools.models").warning("Failed to load _MLModelProxy")


def test_silenced_drops_toolchain_chatter_and_restores_logger_levels(restored_quiet, capsys, coremltools_records) -> None:
    quiet.configure(verbose=False)
    logging.getLogger("coremltools").setLevel(logging.INFO)
    with quiet.silenced():
        _toolchain_chatter()
        logging.getLogger("coremltools.models").error("a real coremltools error")
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert coremltools_records == ["a real coremltools error"]
    assert logging.getLogger("coremltools").level == logging.INFO


def test_verbose_shows_toolchain_chatter(restored_quiet, capsys, coremltools_records) -> None:
    quiet.configure(verbose=True)
    logging.getLogger("coremltools").setLevel(logging.WARNING)
    with pytest.warns(UserWarning, match="has not been tested"):
        with quiet.silenced():
            _toolchain_chatter()
    out = capsys.readouterr()
    assert "MIL Ops" in out.out and "progress bar" in out.err
    assert coremltools_records == ["Failed to load _MLModelProxy"]


def test_configure_quiets_toolchain_loggers_one_by_one(restored_quiet) -> None:
    quiet.configure(verbose=False)
    assert all(logging.getLogger(name).level == logging.ERROR for name in quiet.TOOLCHAIN_LOGGERS)
    assert logging.root.manager.disable == logging.NOTSET  # never the process-global switch
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"


def test_silenced_imports_drop_what_cpp_libraries_write_to_descriptor_2(restored_quiet, capfd) -> None:
    quiet.configure(verbose=False)
    with quiet.silenced_imports():
        os.write(2, b"I0000 port.cc:153] oneDNN custom operations are on\n")
    os.write(2, b"mvedge line\n")
    assert capfd.readouterr().err == "mvedge line\n"
    quiet.configure(verbose=True)
    with quiet.silenced_imports():
        os.write(2, b"shown with --verbose\n")
    assert capfd.readouterr().err == "shown with --verbose\n"
