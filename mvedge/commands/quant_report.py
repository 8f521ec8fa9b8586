"""`mvedge quant-report`: quantize one block at a time, rank blocks by the drift each causes.

    mvedge quant-report --target executorch [--weights FILE] [--images DIR] [--json FILE|-]
"""

from __future__ import annotations

import argparse

from mvedge.commands.output import add_json_argument, emit_json, human_lines
from mvedge.commands.resolve import model_from_options
from mvedge.errors import BadInput
from mvedge.progress import Progress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `mvedge quant-report`."""
    from mvedge.quant.recipes import INT8_TARGETS, OBSERVERS

    parser.add_argument("--target", required=True, help=f"whose int8 recipe to analyse ({', '.join(INT8_TARGETS)})")
    parser.add_argument("--weights", help="checkpoint file or Hugging Face repository (nvidia/MambaVision-T-1K) (default: the embedded digits model)")
    parser.add_argument("--variant", help="official variant name for --weights (or, alone, random weights)")
    parser.add_argument("--image-size", type=int, help="input side in pixels (default: the model's)")
    parser.add_argument("--calibration", help="folder of calibration images (default: bundled images)")
    parser.add_argument("--calibration-limit", type=int, default=64, help="at most this many calibration images (default 64)")
    parser.add_argument("--images", help="folder of images the drift is measured on (default: bundled images)")
    parser.add_argument("--limit", type=int, default=64, help="at most this many drift images (default 64)")
    parser.add_argument("--observer", choices=list(OBSERVERS), help="calibration observer (default: the target recipe's)")
    parser.add_argument(
        "--all-integer", action="store_true",
        help="tflite: rank blocks for the all-integer recipe (convert --all-integer) instead of the default",
    )
    parser.add_argument("--top", type=int, help="show only the N most sensitive blocks")
    add_json_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Print the ranking (and write --json); exit 0."""
    with human_lines(args.json):
        payload = _report(args)
    emit_json(args.json, payload)
    return 0


def _report(args: argparse.Namespace) -> dict:
    """Rank the blocks, print the ranking; the JSON report."""
    import torch

    from mvedge.data.calibration import calibration_set
    from mvedge.quant.recipes import recipe_for
    from mvedge.quant.sensitivity import format_report
    from mvedge.verify.data import verification_set

    recipe_for(args.target)  # BadInput for a target without int8
    if args.limit < 1:
        raise BadInput(f"--limit must be >= 1, got {args.limit}")
    if args.all_integer and args.target != "tflite":
        raise BadInput(f"--all-integer applies to --target tflite only ({args.target}'s recipe keeps its float parts)")
    bundle = model_from_options(args.weights, args.variant, args.image_size)
    progress = Progress()
    with progress.stage("loading images"):
        calibration = calibration_set(bundle, args.calibration, args.calibration_limit)
        images, labels, description = verification_set(bundle, args.images, args.limit)
    progress.note(f"model {bundle.name}; drift measured on {description}")
    if args.target == "tflite":
        report = _tflite_report(bundle, calibration, images, labels, args.observer, args.all_integer, progress)
    else:
        from mvedge.quant import pt2e
        from mvedge.quant.sensitivity import pt2e_sensitivity

        pt2e.target_quantizer(args.target)  # ToolchainMissing (exit 2) before any work
        report = pt2e_sensitivity(
            bundle.model, args.target, torch.from_numpy(calibration), torch.from_numpy(images), labels, args.observer, progress=progress
        )
    print(format_report(report, args.top))
    return {"model": bundle.name, "images": description, **report.to_dict()}


def _tflite_report(bundle, calibration, images, labels, observer, all_integer, progress):
    """LiteRT: the real quantizer (ai-edge-quantizer) on the float .tflite, one scope at a time."""
    from converters.base import ConvertOptions
    from converters.registry import get_converter
    from converters.tflite import litert_torch_float32
    from mvedge.quant.litert import float_parts, scope_sensitivity

    get_converter("tflite").check_available()  # MissingExtra (exit 2)
    example = ConvertOptions("fp32", bundle.image_size).example_input(bundle.config["in_channels"])
    float_model = litert_torch_float32(bundle.model, example, False, progress)
    return scope_sensitivity(float_model, bundle.model, calibration, images, labels, observer, progress, float_parts(all_integer))
