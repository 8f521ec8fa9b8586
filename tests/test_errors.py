"""How `mvedge` reports failures: user errors as one line and an exit code, Ctrl-C as one line and
130, and anything else (a bug) with its traceback."""

from __future__ import annotations

import argparse

import pytest

import mvedge.commands.verify
from mvedge.cli import main
from mvedge.errors import INTERRUPTED_EXIT_CODE, BadInput, Failed, MvedgeError, NotFound


def _verify_raises(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    """Make `mvedge verify` raise `exc` as soon as it runs."""

    def run(args: argparse.Namespace) -> int:
        raise exc

    monkeypatch.setattr(mvedge.commands.verify, "run", run)


@pytest.mark.parametrize("bug", [ValueError("bad unpacking somewhere"), KeyError("missing"), FileNotFoundError("/tmp/x")])
def test_an_internal_bug_keeps_its_traceback(bug: Exception, monkeypatch, capsys) -> None:
    _verify_raises(monkeypatch, bug)
    with pytest.raises(type(bug)) as raised:
        main(["verify", "any.onnx"])
    assert raised.value is bug
    assert "mvedge: error" not in capsys.readouterr().err


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys) -> None:
    _verify_raises(monkeypatch, KeyboardInterrupt())
    try:
        code = main(["verify", "any.onnx"])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped mvedge's main with a traceback")
    assert code == INTERRUPTED_EXIT_CODE == 130
    assert capsys.readouterr().err == "mvedge: interrupted; nothing written\n"


@pytest.mark.parametrize(
    "exc,code",
    [
        (BadInput("--threads must be a positive integer, got 0"), 2),
        (NotFound("artifact 'x.onnx' does not exist"), 2),
        (Failed("the artifact drifts past its threshold"), 1),
    ],
)
def test_user_errors_are_one_line_with_their_exit_code(exc: MvedgeError, code: int, monkeypatch, capsys) -> None:
    _verify_raises(monkeypatch, exc)
    assert main(["verify", "any.onnx"]) == code
    assert capsys.readouterr().err == f"mvedge: error: {exc}\n"


def _user_error_classes() -> list[tuple[type, int, type]]:
    """(class, exit code, the built-in base library callers catch) of every user-facing error."""
    from converters.base import BadRequest, ConversionError, MissingExtra
    from converters.pipeline import VerificationFailed
    from mvedge.model.checkpoints import CheckpointError
    from mvedge.profile.devices.commands import DeviceError
    from mvedge.profile.host import ProfileFailed
    from mvedge.quant.recipes import recipe_for  # noqa: F401  (mvedge.quant imports without torchao)
    from mvedge.verify.coreml_interpreter import UnsupportedOperation
    from mvedge.verify.localize import LocalizationUnavailable
    from mvedge.verify.runners.base import RuntimeUnavailable

    classes = [
        (CheckpointError, 2, ValueError),
        (DeviceError, 2, ValueError),
        (LocalizationUnavailable, 2, Exception),
        (BadRequest, 2, ConversionError),
        (MissingExtra, 2, ConversionError),
        (NotFound, 2, FileNotFoundError),
        (ConversionError, 1, RuntimeError),
        (VerificationFailed, 1, ConversionError),
        (ProfileFailed, 1, RuntimeError),
        (RuntimeUnavailable, 1, RuntimeError),
        (UnsupportedOperation, 1, NotImplementedError),
    ]
    try:
        from mvedge.quant.pt2e import ToolchainMissing
    except ImportError:  # torchao not installed
        pass
    else:
        classes.append((ToolchainMissing, 2, ValueError))
    return classes


@pytest.mark.parametrize("cls,code,base", _user_error_classes(), ids=lambda v: getattr(v, "__name__", str(v)))
def test_every_user_facing_error_carries_its_exit_code(cls: type, code: int, base: type) -> None:
    error = cls("message")
    assert isinstance(error, MvedgeError) and error.exit_code == code
    assert isinstance(error, base)  # callers catching the old base class keep working
