"""Class names: the ImageNet-1K names that ship with mvedge (for the official checkpoints) and
the reader of a user's labels file (`--labels FILE`, one name per line)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from mvedge.errors import BadInput

IMAGENET1K_FILE = "imagenet1k_labels.txt"
"""mvedge/assets/imagenet1k_labels.txt: the 1000 ImageNet-1K class names in class-index order
(0 tench ... 999 toilet tissue); where they come from and their license: mvedge/assets/README.md."""


@lru_cache(maxsize=1)
def _imagenet1k() -> tuple[str, ...]:
    text = resources.files("mvedge").joinpath("assets", IMAGENET1K_FILE).read_text(encoding="utf-8")
    return tuple(line for line in text.splitlines() if line)


def imagenet1k_labels() -> list[str]:
    """The 1000 ImageNet-1K class names, index i naming logit i of an official MambaVision head."""
    return list(_imagenet1k())


def read_labels_file(path: str | Path, classes: int | None) -> list[str]:
    """One class name per line from `path` (a trailing newline is fine; blank lines are not),
    checked against the model's `classes`; BadInput with one line naming the problem."""
    path = Path(path)
    if classes is None:
        raise BadInput(f"--labels {path}: the model has no class head (it returns pooled features); drop --labels")
    if not path.is_file():
        raise BadInput(f"--labels {path} does not exist or is not a file; give a text file with one class name per line")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"--labels {path} is not readable UTF-8 text ({type(exc).__name__}); give a text file with one class name per line") from exc
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise BadInput(f"--labels {path} has no names; give one class name per line, {classes} lines")
    blank = next((number for number, line in enumerate(lines, 1) if not line.strip()), None)
    if blank is not None:
        raise BadInput(f"--labels {path}: line {blank} is blank; give one class name per line, no blank lines")
    names = [line.strip() for line in lines]
    if len(names) != classes:
        raise BadInput(f"--labels {path} has {len(names)} names but the model has {classes} classes; give one name per class, in class-index order")
    return names
