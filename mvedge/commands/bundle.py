"""`mvedge bundle`: ship converted artifacts in the Android or iOS demo app, with contract vectors."""

from __future__ import annotations

import argparse
from pathlib import Path

from mvedge.apps.contract import DEFAULT_IMAGE_COUNT
from mvedge.apps.layout import LAYOUTS
from mvedge.commands.output import add_json_argument, emit_json, human_lines
from mvedge.errors import BadInput
from mvedge.verify.runners import ARCHES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `mvedge bundle`."""
    parser.add_argument("--app", required=True, help=f"which demo app: {' or '.join(LAYOUTS)}")
    parser.add_argument("artifacts", nargs="+", metavar="ARTIFACT", help="files written by mvedge convert (.tflite/.pte for android, .mlpackage for ios), sidecar next to each")
    parser.add_argument("--app-dir", help="the app's folder (default: android_demo/ or ios_demo/ of this checkout, else ./<app>_demo)")
    parser.add_argument(
        "--contract-images", type=int, default=DEFAULT_IMAGE_COUNT, metavar="N",
        help=f"how many contract images to write (default {DEFAULT_IMAGE_COUNT})",
    )
    parser.add_argument("--images", help=argparse.SUPPRESS)  # the old name of the count; refused with the new one
    parser.add_argument("--force", action="store_true", help="replace artifacts already bundled under the same name")
    parser.add_argument(
        "--arch", choices=ARCHES, default="host",
        help="arm64: compute the contract vectors' expected outputs on ARM64 CPU kernels under qemu emulation, "
             "as a phone computes them (.tflite, .pte)",
    )
    add_json_argument(parser, "what was written")


def run(args: argparse.Namespace) -> int:
    """Bundle, then print the files written (and the JSON report with --json)."""
    from mvedge.apps.bundle import bundle
    from mvedge.apps.layout import default_app_dir, get_layout
    from mvedge.atomic import check_output_folder
    from mvedge.progress import Progress

    if args.images is not None:
        raise BadInput(f"bundle --images is now --contract-images {args.images} (the number of contract images); "
                       "--images names a folder of images in the other commands")
    args.app = args.app.lower()  # --app Android, ANDROID, android: the same app
    layout = get_layout(args.app)
    app_dir = Path(args.app_dir) if args.app_dir else default_app_dir(args.app)
    check_output_folder(app_dir, "--app-dir")
    with human_lines(args.json):
        result = bundle(args.app, args.artifacts, app_dir, args.force, args.contract_images, Progress("bundle"), arch=args.arch)
        _print_files(result, app_dir, layout)
    emit_json(args.json, result.to_dict())
    return 0


def _print_files(result, app_dir: Path, layout) -> None:
    """The files written, one line each."""
    for model in result.models:
        print(f"{model['runtime']:<11} {model['size_bytes'] / 1e6:6.2f} MB  {app_dir / layout.models / model['file']}")
    print(f"index       {app_dir / layout.models / 'index.json'}")
    print(f"samples     {len(result.samples)} in {app_dir / layout.samples}")
    print(f"contract    {result.contract_images} images x {len(result.models)} artifacts in {result.contract_dir}")
