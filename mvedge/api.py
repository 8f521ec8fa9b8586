"""Notebook-sized entry points: `convert`, the `mvedge convert` command as a function (same
options, checks and loop), and `preprocess`, one image as a model input."""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from mvedge import strict_json
from mvedge.artifact import Sidecar, read_sidecar
from mvedge.data import images
from mvedge.errors import BadInput
from mvedge.model.preprocessing import Preprocessing, preprocessing as variant_preprocessing

if TYPE_CHECKING:
    from mvedge.commands.conversion import Outcome


def _preprocessing_and_channels(preprocessing: Preprocessing | str | os.PathLike) -> tuple[Preprocessing, int]:
    """A Preprocessing as given, or a variant's, or a sidecar's (its JSON file, or the artifact
    next to it), with the model's input channels (3 unless a sidecar says otherwise)."""
    if isinstance(preprocessing, Preprocessing):
        return preprocessing, 3
    path = Path(preprocessing)
    if path.suffix == ".json" and path.is_file():
        sidecar = Sidecar.from_dict(strict_json.loads(path.read_text()), str(path))
    elif path.exists():
        sidecar = read_sidecar(path)
    elif isinstance(preprocessing, str) and os.sep not in preprocessing and "." not in preprocessing:
        return variant_preprocessing(preprocessing), 3
    else:
        raise BadInput(f"preprocessing {str(preprocessing)!r} is neither a variant name nor an existing sidecar or artifact")
    where = f"{path} preprocessing"
    return Preprocessing.from_dict(sidecar.preprocessing, where), int(sidecar.config.get("in_channels", 3))


def preprocess(image: str | os.PathLike | Image.Image, preprocessing: Preprocessing | str | os.PathLike) -> np.ndarray:
    """One image (a path or a PIL image) as the model input, exactly as mvedge's converters,
    verification and apps prepare it: float32 (channels, S, S), or (S, S, channels) for an NHWC
    preprocessing. `preprocessing`: a `Preprocessing`, a variant name ("T") or a sidecar (the
    `.json` file or the artifact beside it). Add a batch axis with `[None]`."""
    pre, channels = _preprocessing_and_channels(preprocessing)
    picture = image if isinstance(image, Image.Image) else images.load_image(image)
    if pre.layout == "NHWC":
        return np.ascontiguousarray(np.moveaxis(images.preprocess(picture, replace(pre, layout="NCHW"), channels), 0, -1))
    return images.preprocess(picture, pre, channels)


def _argv(parser: argparse.ArgumentParser, options: dict[str, Any]) -> list[str]:
    """`mvedge.convert`'s keyword options as the command line of `mvedge convert`."""
    actions = {a.dest: a for a in parser._actions if a.option_strings}
    argv: list[str] = []
    for key, value in options.items():
        action = actions.get(key)
        if action is None or key in ("help", "json"):
            raise TypeError(f"mvedge.convert() got an unexpected option {key!r}")
        flag = next(o for o in action.option_strings if o.startswith("--"))
        if isinstance(action, argparse._StoreTrueAction):
            if value:
                argv.append(flag)
        elif value is not None:
            argv += [flag, ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)]
    return argv


def convert(target: str | list[str], precision: str | list[str] | None = None, **options: Any) -> list[Outcome]:
    """`mvedge convert` as a function: the same options as keywords (weights, variant, image_size,
    out, force, no_verify, images, calibration, observer, exclude, nhwc, io_dtype, ...; see the
    README), the same checks before any work and the same loop. Returns one outcome per target x
    precision: `.status` (verified, converted, failed, skipped), `.artifact` (path, sidecar, size,
    `.drift`) and `.reason`; a lone named pair that fails raises its error, as the command does."""
    from mvedge.commands import convert as command  # the command imports every converter's front

    parser = argparse.ArgumentParser(prog="mvedge.convert", exit_on_error=False)
    command.add_arguments(parser)
    argv = _argv(parser, {"target": target, "precision": precision, **options})
    try:
        args = parser.parse_args(argv)
    except argparse.ArgumentError as exc:
        raise BadInput(f"mvedge.convert: {exc}") from exc
    _, outcomes = command.convert_all(args)
    return outcomes
