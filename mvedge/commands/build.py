"""`mvedge build`: build (or load) a model, check one forward pass, optionally save its weights."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from mvedge.atomic import check_output_file
from mvedge.commands.resolve import model_from_options
from mvedge.errors import BadInput, Failed
from mvedge.model import VARIANTS, output_size
from mvedge.model.checkpoints import save_checkpoint_atomic


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `mvedge build`."""
    parser.add_argument("--variant", help=f"official variant ({', '.join(VARIANTS)}); default T, or detected from --weights")
    parser.add_argument("--weights", help="checkpoint file (.pth.tar, .pth, .pt, .safetensors) or Hugging Face repository (nvidia/MambaVision-T-1K)")
    parser.add_argument("--num-classes", type=int, metavar="N", help="a new, untrained N-class head on the backbone (default: the model's head)")
    parser.add_argument("--image-size", type=int, help="input side in pixels (default: the variant's)")
    parser.add_argument("--out", help="save the weights as .safetensors here")
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")


def run(args: argparse.Namespace) -> int:
    """Print the model's summary after one forward pass on a random image; exit 0."""
    out = Path(args.out) if args.out else None
    if out is not None:
        check_output_file(out)
    if out is not None and out.exists() and not args.force:  # refuse before building anything
        raise BadInput(f"{out} already exists; pass --force to overwrite it")
    bundle = model_from_options(args.weights, args.variant or (None if args.weights else "T"), args.image_size, num_classes=args.num_classes)
    model, cfg = bundle.model, bundle.config
    name = getattr(model, "variant", None) or (bundle.name if bundle.random_weights else "custom")
    size = cfg["image_size"]
    print(f"variant      {name}")
    print(f"parameters   {sum(p.numel() for p in model.parameters()):,}")
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
    chunk = cfg["scan_chunk_size"]
    print(f"scan chunk   {'by sequence length' if chunk is None else f'{chunk} tokens'}")
    if out is not None:
        model.variant = None if name == "custom" else name
        save_checkpoint_atomic(model, out)
        print(f"weights      {out}")
    return 0
