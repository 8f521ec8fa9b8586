"""`mvedge qat`: quantization-aware fine-tuning for one target, saved as a checkpoint convert accepts.

    mvedge qat --target executorch --data DIR [--labels] [--weights FILE] [--epochs 3] [--out FILE]
    torchrun --nproc_per_node 2 -m mvedge.cli qat --target executorch --data DIR   # 2 processes (gloo)
"""

from __future__ import annotations

import argparse
import importlib.metadata
from pathlib import Path

import mvedge
from mvedge.atomic import check_output_file
from mvedge.commands.output import add_json_argument, emit_json, human_lines
from mvedge.commands.resolve import model_from_options
from mvedge.errors import BadInput
from mvedge.progress import Progress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `mvedge qat`."""
    from mvedge.quant.recipes import INT8_TARGETS

    parser.add_argument("--target", required=True, help=f"target whose int8 recipe to train for ({', '.join(INT8_TARGETS)})")
    parser.add_argument("--data", required=True, help="folder of training images (with --labels: one subfolder per class)")
    parser.add_argument("--labels", action="store_true", help="add cross-entropy on the class subfolders to the distillation loss")
    parser.add_argument("--weights", help="checkpoint file or Hugging Face repository (nvidia/MambaVision-T-1K) to fine-tune (default: the embedded digits model)")
    parser.add_argument("--variant", help="official variant name for --weights (or, alone, random weights: for testing only)")
    parser.add_argument("--epochs", type=int, default=3, help="passes over the images (default 3)")
    parser.add_argument("--batch-size", type=int, default=32, help="images per step and process (default 32)")
    parser.add_argument("--lr", type=float, default=2e-5, help="peak AdamW learning rate, cosine decay (default 2e-5)")
    parser.add_argument("--limit", type=int, help="use at most this many images (spread over the folder)")
    parser.add_argument("--exclude", help="comma-separated blocks kept float (see mvedge quant-report); convert reuses them")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data order (default 0)")
    parser.add_argument("--out", help="output .safetensors (default ./mvedge-out/<model>-qat-<target>.safetensors)")
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    add_json_argument(parser, "the run summary")


def _output_path(args: argparse.Namespace, name: str) -> Path:
    out = Path(args.out) if args.out else Path("mvedge-out") / f"{name.lower()}-qat-{args.target}.safetensors"
    if out.suffix != ".safetensors":
        raise BadInput(f"--out must end in .safetensors, got {str(out)!r}")
    if out.exists() and not args.force:
        raise BadInput(f"{out} already exists; pass --force to overwrite it or --out to choose another file")
    return out


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def run(args: argparse.Namespace) -> int:
    """Fine-tune under the target's fake quantization and write the checkpoint (rank 0)."""
    with human_lines(args.json):
        payload = _train(args)
    if payload is not None:
        emit_json(args.json, payload)
    return 0


def _train(args: argparse.Namespace) -> dict | None:
    """The fine-tuning itself; the JSON summary on the main rank (None on the others)."""
    from mvedge.quant.data import image_folder
    from mvedge.quant.recipes import recipe_for
    from mvedge.quant.regions import resolve_exclusions

    recipe = recipe_for(args.target)  # BadInput for a target without int8 (onnx)
    for path, option in ((args.out, "--out"), (args.json, "--json")):
        if path:  # before the model and the images are loaded
            check_output_file(path, option)
    bundle = model_from_options(args.weights, args.variant)
    previous = bundle.extra.get("qat")
    if previous:  # tuning a QAT checkpoint again: named after its base model
        bundle.name = previous.get("base_name") or bundle.name
    out = _output_path(args, bundle.name)
    excluded = resolve_exclusions(bundle.model, (args.exclude or "").split(","))
    num_classes = bundle.config.get("num_classes")
    folder = image_folder(args.data, args.labels, bundle.labels, num_classes, args.limit)
    try:
        from mvedge.quant import distributed, pt2e, qat
    except ImportError as exc:
        raise BadInput(f"QAT needs torchao ({exc}); install it with: pip install \"mvedge[executorch]\" -c constraints.txt") from exc
    pt2e.target_quantizer(args.target, qat=True)  # ToolchainMissing (exit 2) before any work
    config = qat.QATConfig(args.target, args.epochs, args.batch_size, args.lr, seed=args.seed, exclude=excluded)
    config.check()
    ranks = distributed.from_environment()
    try:
        progress = Progress(quiet=not ranks.main)
        progress.note(
            f"model {bundle.name}, {len(folder)} images from {args.data}" + (f" in {len(folder.classes or [])} classes" if args.labels else "")
            + f", {ranks.world} process(es), target {args.target}"
        )
        result = qat.train(bundle.model, folder, bundle.preprocessing, config, progress, ranks)
        info = {
            "target": args.target,
            "observer": "minmax",
            "convert_options": {},  # every recipe's default float region is the one QAT kept float
            "exclude": list(excluded),
            "recipe": recipe.to_dict(),
            "fake_quantization": "prepare_qat_pt2e with the target's quantizer; activations FakeQuantize(min/max), weights per-channel",
            "meaning": "float weights fine-tuned under the target's int8 fake quantization; mvedge convert --precision int8 "
            "re-quantizes them with the target's recipe, calibrating activations with the min/max observer",
            "epochs": result.epochs,
            "steps": result.steps,
            "images": len(folder),
            "trained_with_labels": bool(args.labels),
            "batch_size": args.batch_size,
            "lr": args.lr,
            "world_size": result.world,
            "ranks_agree": result.ranks_agree,
            "seconds": round(result.seconds, 1),
            "quantized": result.quantized,
            "base_name": bundle.name,
            "base_source": (previous or {}).get("base_source") or bundle.source,
            "domain": bundle.domain,
            "preprocessing": bundle.preprocessing.to_dict(),
            "labels": bundle.labels,
            "mvedge_version": mvedge.__version__,
            "toolchain": {name: _version(name) for name in ("torch", "torchao", "executorch", "coremltools", "litert-torch")},
        }
        if ranks.main:
            from mvedge.quant.checkpoint import save_qat_checkpoint

            save_qat_checkpoint(result.model, out, info)
            losses = ", ".join(f"{e['loss']:.5f}" for e in result.epochs)
            print(f"wrote {out} (QAT for {args.target}, {result.steps} steps, loss per epoch {losses}, {result.seconds:.0f} s)")
            print(f"next: mvedge convert --target {args.target} --precision int8 --weights {out}")
            return {"checkpoint": str(out), **info}
    finally:
        distributed.leave(ranks)
    return None

