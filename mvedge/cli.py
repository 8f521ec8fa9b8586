"""The `mvedge` command line: a thin layer over the library functions.

A user-facing failure (`mvedge.errors.MvedgeError`) becomes one line on stderr ("mvedge: error:
...") and its exit code (2 for bad input, 1 for work that did not succeed); Ctrl-C becomes one line
and exit code 130. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path
from typing import Sequence

import torch

from mvedge import __version__, quiet
from mvedge.commands.resolve import model_from_options
from mvedge.errors import INTERRUPTED_EXIT_CODE, BadInput, Failed, MvedgeError
from mvedge.model import VARIANTS, output_size


def _save_state_dict_atomic(model: torch.nn.Module, out: Path, force: bool) -> None:
    """Write weights as safetensors to a temporary file, then rename into place."""
    from mvedge.model.checkpoints import save_checkpoint_atomic

    if out.exists() and not force:
        raise BadInput(f"{out} already exists; pass --force to overwrite it")
    save_checkpoint_atomic(model, out)


def cmd_build(args: argparse.Namespace) -> int:
    """Build (or load) a model, run one forward pass on a random image and print a summary."""
    bundle = model_from_options(args.weights, args.variant or (None if args.weights else "T"), args.image_size)
    model, cfg = bundle.model, bundle.config
    name = getattr(model, "variant", None) or (bundle.name if bundle.random_weights else "custom")
    size = cfg["image_size"]
    params = sum(p.numel() for p in model.parameters())
    print(f"variant      {name}")
    print(f"parameters   {params:,}")
    print(f"input        1x{cfg['in_channels']}x{size}x{size}")
    torch.manual_seed(0)
    x = torch.randn(1, cfg["in_channels"], size, size)
    start = time.perf_counter()
    with torch.no_grad():
        y = model(x)
    elapsed = time.perf_counter() - start
    if tuple(y.shape) != (1, output_size(cfg)) or not torch.isfinite(y).all():
        raise Failed(f"forward pass gave shape {tuple(y.shape)} or non-finite values; the model is broken")
    print(f"output       {tuple(y.shape)} (first forward {elapsed * 1000:.0f} ms)")
    print(f"scan chunk   {cfg['scan_chunk_size']} tokens")
    if args.out:
        model.variant = None if name == "custom" else name
        _save_state_dict_atomic(model, Path(args.out), args.force)
        print(f"weights      {args.out}")
    return 0


COMMANDS = (  # (sub-command, module in mvedge.commands with add_arguments/run, help)
    ("convert", "convert", "convert a model for a mobile target, verify it, write artifact + sidecar"),
    ("verify", "verify", "run an artifact in its own runtime and report its drift from the float model"),
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
    parser.add_argument(
        "--verbose", action="store_true", help="also show the toolchains' own warnings and log lines (hidden by default)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="build or load a MambaVision model and check one forward pass")
    p.add_argument("--variant", help=f"official variant ({', '.join(VARIANTS)}); default T, or detected from --weights")
    p.add_argument("--weights", help="checkpoint file (.pth.tar, .pth, .pt, .safetensors)")
    p.add_argument("--image-size", type=int, help="input side in pixels (default: the variant's)")
    p.add_argument("--out", help="save the weights as .safetensors here")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(func=cmd_build)
    for name, module_name, help_text in COMMANDS:
        command = importlib.import_module(f"mvedge.commands.{module_name}")
        p = sub.add_parser(name, help=help_text)
        command.add_arguments(p)
        p.set_defaults(func=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mvedge` console script."""
    parser = make_parser()
    args = parser.parse_args(argv)
    quiet.configure(verbose=args.verbose)
    try:
        return args.func(args)
    except MvedgeError as exc:
        print(f"mvedge: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("mvedge: interrupted; nothing written", file=sys.stderr)
        return INTERRUPTED_EXIT_CODE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
