"""The `mvedge` command line: a thin layer over the library functions.

A user-facing failure (`mvedge.errors.MvedgeError`) becomes one line on stderr ("mvedge: error:
...") and its exit code (2 for bad input, 1 for work that did not succeed); Ctrl-C becomes one line
and exit code 130, also when a toolchain caught the KeyboardInterrupt and raised its own error
instead (what happens after Ctrl-C is a consequence of it). Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from contextlib import contextmanager
from typing import Iterator, Sequence

from mvedge import __version__, progress, quiet
from mvedge.errors import INTERRUPTED_EXIT_CODE, MvedgeError


COMMANDS = (  # (sub-command, module in mvedge.commands with add_arguments/run, help)
    ("build", "build", "build or load a MambaVision model and check one forward pass"),
    ("convert", "convert", "convert a model for a mobile target, verify it, write artifact + sidecar"),
    ("verify", "verify", "run an artifact in its own runtime and report its drift from the float model"),
    ("info", "info", "describe an artifact from its sidecar (model, input, output, preprocessing, labels, drift) and check its hash"),
    ("bundle", "bundle", "copy artifacts into the Android or iOS demo app, with contract vectors for its tests"),
    ("profile", "profile", "latency, load time, memory and per-operator time of artifacts, here or on a phone"),
    ("benchmark", "benchmark", "convert one model to every target and precision, verify and profile each, one table"),
    ("qat", "qat", "quantization-aware fine-tuning (distillation) for a target's int8 recipe; saves a checkpoint"),
    ("quant-report", "quant_report", "quantize one block at a time and rank blocks by the drift each causes"),
)


def make_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="mvedge", description="MambaVision to phones: build, convert, verify, profile.")
    parser.add_argument("--version", action="version", version=f"mvedge {__version__}")
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument(
        "--verbose", action="store_true", help="also show the toolchains' own warnings and log lines (hidden by default)"
    )
    loudness.add_argument(
        "--quiet", action="store_true", help="print only errors and the final table (no progress or notes)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module_name, help_text in COMMANDS:
        command = importlib.import_module(f"mvedge.commands.{module_name}")
        p = sub.add_parser(name, help=help_text)
        command.add_arguments(p)
        p.set_defaults(func=command.run)
    return parser


@contextmanager
def _noticing_interrupts() -> Iterator[dict]:
    """Ctrl-C raises KeyboardInterrupt as usual and is also recorded, so an error a toolchain made
    of it (a broad `except`, a C++ layer) is still reported as the interrupt it was."""
    seen = {"interrupted": False}
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:  # ignored, or someone else's
        yield seen
        return

    def on_sigint(signum, frame):
        seen["interrupted"] = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mvedge` console script."""
    parser = make_parser()
    args = parser.parse_args(argv)
    quiet.configure(verbose=args.verbose)
    progress.set_quiet(args.quiet)
    with _noticing_interrupts() as seen:
        try:
            return args.func(args)
        except KeyboardInterrupt:
            return _interrupted()
        except MvedgeError as exc:
            if seen["interrupted"]:
                return _interrupted()
            print(f"mvedge: error: {exc}", file=sys.stderr)
            return exc.exit_code
        except Exception:
            if seen["interrupted"]:
                return _interrupted()
            raise


def _interrupted() -> int:
    print("mvedge: interrupted; nothing written", file=sys.stderr)
    return INTERRUPTED_EXIT_CODE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
