"""Input sizes: the --image-size values (`224`, `256x320` as HEIGHTxWIDTH, or a comma-separated
list of them), their spelling in artifact names, and the one check of what the model can take."""

from __future__ import annotations

import re
from typing import Sequence

from mvedge.errors import BadInput

Size = tuple[int, int]
"""(height, width) in pixels."""

_ONE = re.compile(r"^\s*(\d+)\s*(?:[xX]\s*(\d+)\s*)?$")
FORMAT = "a side (224), HEIGHTxWIDTH (256x320), or a comma-separated list of them (224,256x320)"


def as_size(value: int | Sequence[int] | str) -> Size:
    """(height, width) of an int side, an (H, W) pair, or one 'S' / 'HxW' string; BadInput otherwise."""
    if isinstance(value, str):
        sizes = parse_sizes(value)
        if len(sizes) != 1:
            raise BadInput(f"expected one image size, got {value!r}; use a side (224) or HEIGHTxWIDTH (256x320)")
        return sizes[0]
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return (int(value[0]), int(value[1]))
    raise BadInput(f"an image size is a side or a (height, width) pair, got {value!r}")


def parse_sizes(text: str | int | Sequence | None) -> list[Size] | None:
    """The sizes of an --image-size value, in order, without repeats: '224' -> [(224, 224)],
    '256x320' -> [(256, 320)], '224,256x320' -> both; None for None. BadInput names the bad part."""
    if text is None:
        return None
    if isinstance(text, (int, tuple)) or (isinstance(text, list) and text and isinstance(text[0], int)):
        return [_positive(as_size(text), str(text))]
    if isinstance(text, list):
        return list(dict.fromkeys(_positive(as_size(v), str(v)) for v in text))
    parts = [p for p in str(text).split(",")]
    if not str(text).strip() or any(not p.strip() for p in parts):
        raise BadInput(f"--image-size {text!r} is not {FORMAT}")
    sizes = []
    for part in parts:
        match = _ONE.match(part)
        if not match:
            raise BadInput(f"--image-size {part.strip()!r} is not {FORMAT}")
        height = int(match.group(1))
        width = int(match.group(2)) if match.group(2) is not None else height
        sizes.append(_positive((height, width), part.strip()))
    return list(dict.fromkeys(sizes))


def _positive(size: Size, given: str) -> Size:
    if min(size) < 1:
        raise BadInput(f"--image-size must be a positive integer per side (224, or HEIGHTxWIDTH like 256x320), got {given}")
    return size


def check_sizes(sizes: Sequence[Size], stride: int, trained: str) -> None:
    """Refuse a size the network cannot use: a side below its total stride would leave the last
    stage mostly padding. Any other side runs (convolutions round up, windows are zero-padded)."""
    for height, width in sizes:
        if min(height, width) < stride:
            raise BadInput(
                f"--image-size {size_tag((height, width))} has a side below the network's total stride ({stride}): the last stage's "
                f"pixels would be mostly padding; use at least {stride} per side (the model was trained at {trained})"
            )


def size_tag(size: Size) -> str:
    """How a size is written in names and messages: '224' when square, else '256x320' (HxW)."""
    height, width = size
    return str(height) if height == width else f"{height}x{width}"


def sizes_tag(sizes: Sequence[Size]) -> str:
    """Several sizes in an artifact name: their tags joined by '_' ('224_256x320')."""
    return "_".join(size_tag(s) for s in sizes)


def method_name(index: int, size: Size) -> str:
    """The ExecuTorch method / LiteRT signature of the `index`-th size of a multi-size artifact:
    'forward' for the first, 'forward_<H>x<W>' for the others."""
    return "forward" if index == 0 else f"forward_{size[0]}x{size[1]}"
