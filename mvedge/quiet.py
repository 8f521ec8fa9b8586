"""All silencing of third-party output, in one place, so mvedge's own lines (progress, notes,
tables, errors) are all a user sees unless they ask for more (`mvedge --verbose`).

The toolchains print at import time (version warnings, "Failed to load" lines, TensorFlow's C++
logging straight to file descriptor 2) and while they work (progress bars, warnings, log lines).
Three tools, each scoped: `configure` for the `mvedge` process (environment, warning filters,
toolchain loggers at ERROR), `silenced` around one toolchain step, `silenced_imports` around the
first import of a toolchain (adds a file-descriptor-level capture of stderr for C++ libraries).
Loggers are set one by one; the process-global `logging.disable` is never used.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import warnings
from typing import Iterator

TOOLCHAIN_LOGGERS = (
    "coremltools",
    "torchao",
    "executorch",
    "torch",
    "tensorflow",
    "absl",
    "jax",
    "litert_torch",
    "ai_edge_litert",
    "ai_edge_quantizer",
    "ai_edge_torch",
    "onnxscript",
    "onnx_ir",
)
"""Loggers of the toolchains mvedge drives; below ERROR their messages are noise to a user."""

ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "3"}
"""Read by TensorFlow's C++ logging when it loads: errors only."""

_state = {"verbose": False}


def configure(verbose: bool = False) -> None:
    """Set up the `mvedge` process before any toolchain loads: quiet by default (environment,
    every Python warning ignored, toolchain loggers at ERROR); `verbose` leaves everything as the
    toolchains set it and turns `silenced` / `silenced_imports` into no-ops."""
    _state["verbose"] = verbose
    if verbose:
        return
    for key, value in ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    warnings.simplefilter("ignore")
    for name in TOOLCHAIN_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def verbose() -> bool:
    """Whether third-party output is shown (`mvedge --verbose`)."""
    return _state["verbose"]


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """During one toolchain step: Python warnings ignored, the toolchain loggers at ERROR, and
    what the toolchain writes to sys.stdout / sys.stderr (progress bars, summaries) dropped.
    Progress objects made before the step keep writing to the real stderr."""
    if verbose():
        yield
        return
    loggers = [logging.getLogger(name) for name in TOOLCHAIN_LOGGERS]
    levels = [logger.level for logger in loggers]
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), _litert_torch_progress_off():
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)


@contextlib.contextmanager
def _litert_torch_progress_off() -> Iterator[None]:
    """litert-torch draws its own progress console (`litert_torch.config.show_progress`): off for
    the duration when litert-torch is loaded."""
    config = getattr(sys.modules.get("litert_torch"), "config", None)
    shown = getattr(config, "show_progress", None)
    if shown is None:
        yield
        return
    config.show_progress = False
    try:
        yield
    finally:
        config.show_progress = shown


@contextlib.contextmanager
def silenced_imports() -> Iterator[None]:
    """While a toolchain is first imported: `silenced`, the quiet environment, and file
    descriptor 2 sent to a temporary file, because C++ libraries loaded by the import (TensorFlow's
    absl logging, "oneDNN custom operations are on", "Could not find cuda drivers") write there
    directly. What they wrote is dropped; an import error still propagates."""
    if verbose():
        yield
        return
    added = {key: value for key, value in ENVIRONMENT.items() if key not in os.environ}
    os.environ.update(added)
    try:
        with silenced(), _stderr_descriptor_dropped():
            yield
    finally:
        for key in added:
            os.environ.pop(key, None)


@contextlib.contextmanager
def _stderr_descriptor_dropped() -> Iterator[None]:
    """Point file descriptor 2 at a temporary file for the duration, then restore it."""
    try:
        sys.__stderr__.flush()
    except (AttributeError, ValueError):  # no real stderr (embedded interpreter, closed stream)
        pass
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
