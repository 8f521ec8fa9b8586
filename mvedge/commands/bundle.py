"""`mvedge bundle`: ship converted artifacts in the Android or iOS demo app, with contract vectors."""

from __future__ import annotations

import argparse
from pathlib import Path

from mvedge import strict_json
from mvedge.apps.contract import DEFAULT_IMAGE_COUNT
from mvedge.apps.layout import LAYOUTS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `mvedge bundle`."""
    parser.add_argument("--app", required=True, help=f"which demo app: {' or '.join(LAYOUTS)}")
    parser.add_argument("artifacts", nargs="+", metavar="ARTIFACT", help="files written by mvedge convert (.tflite/.pte for android, .mlpackage for ios), sidecar next to each")
    parser.add_argument("--app-dir", help="the app's folder (default: android_demo/ or ios_demo/ of this checkout, else ./<app>_demo)")
    parser.add_argument("--images", type=int, default=DEFAULT_IMAGE_COUNT, help=f"contract images (default {DEFAULT_IMAGE_COUNT})")
    parser.add_argument("--force", action="store_true", help="replace artifacts already bundled under the same name")
    parser.add_argument("--json", action="store_true", help="print what was written as JSON")


def run(args: argparse.Namespace) -> int:
    """Bundle, then print the files written (a table, or JSON with --json)."""
    from mvedge.apps.bundle import bundle
    from mvedge.apps.layout import default_app_dir, get_layout
    from mvedge.atomic import check_output_folder
    from mvedge.progress import Progress

    args.app = args.app.lower()  # --app Android, ANDROID, android: the same app
    layout = get_layout(args.app)
    app_dir = Path(args.app_dir) if args.app_dir else default_app_dir(args.app)
    check_output_folder(app_dir, "--app-dir")
    result = bundle(args.app, args.artifacts, app_dir, args.force, args.images, Progress("bundle", quiet=args.json))
    if args.json:
        print(strict_json.dumps(result.to_dict(), indent=1))
        return 0
    for model in result.models:
        print(f"{model['runtime']:<11} {model['size_bytes'] / 1e6:6.2f} MB  {app_dir / layout.models / model['file']}")
    print(f"index       {app_dir / layout.models / 'index.json'}")
    print(f"samples     {len(result.samples)} in {app_dir / layout.samples}")
    print(f"contract    {result.contract_images} images x {len(result.models)} artifacts in {result.contract_dir}")
    return 0
