"""The converter interface every target implements, and the errors they share."""

from __future__ import annotations

import importlib
import importlib.metadata
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from mvedge.errors import BadInput, Failed
from mvedge.model.bundle import ModelBundle
from mvedge.model.sizes import Size, as_size, sizes_tag
from mvedge.progress import Progress
from mvedge.quiet import silenced_imports


class ConversionError(Failed):
    """A conversion failed or was refused; the message says why and what to do (exit code 1)."""


class BadRequest(BadInput, ConversionError):
    """The request itself is wrong (unsupported precision or option, existing output, unknown
    target): exit code 2. Still a ConversionError, so callers that collect failed pairs see it."""

    exit_code = 2


class MissingExtra(BadRequest):
    """The target's toolchain is not installed; the message names the pip extra (exit code 2)."""


@dataclass
class ConvertOptions:
    """What to convert to: precision, input size(s), calibration data and target-specific options.
    `image_size` is a side or (height, width); `more_sizes` are the further sizes of a multi-size
    artifact (empty: one size)."""

    precision: str
    image_size: int | tuple[int, int]
    batch: int = 1
    calibration: np.ndarray | None = None  # preprocessed NCHW float32 images for static quantization
    extra: dict[str, Any] = field(default_factory=dict)  # target-specific (e.g. via, nhwc, io_dtype)
    more_sizes: list[Size] = field(default_factory=list)

    @property
    def size(self) -> Size:
        """(height, width) of the (first) input size."""
        return as_size(self.image_size)

    @property
    def sizes(self) -> list[Size]:
        """Every input size, the first first."""
        return [self.size, *self.more_sizes]

    @property
    def multi_size(self) -> bool:
        """Whether the artifact takes several input sizes."""
        return bool(self.more_sizes)

    def example_input(self, channels: int, size: Size | None = None) -> torch.Tensor:
        """A deterministic example input for tracing/export (batch x C x H x W), at `size` (default the first)."""
        height, width = size or self.size
        generator = torch.Generator().manual_seed(0)
        return torch.randn(self.batch, channels, height, width, generator=generator)


def refuse_several_sizes(target: str, why: str, options: ConvertOptions) -> None:
    """BadRequest when a conversion that takes one input size is asked for several."""
    if options.multi_size:
        raise BadRequest(
            f"{target} {options.precision} takes one input size per artifact ({why}); convert each of "
            f"{', '.join(sizes_tag([s]) for s in options.sizes)} with its own --image-size"
        )


@dataclass
class ConversionResult:
    """What a converter wrote and how to feed it: the sidecar's input section comes from here."""

    path: Path
    input_name: str = "image"
    input_layout: str = "NCHW"
    input_dtype: str = "float32"
    input_quantization: dict[str, float] | None = None  # scale/zero_point for integer inputs
    output_quantization: dict[str, float] | None = None
    output_name: str = "logits"
    output_dtype: str = "float32"
    output_names: list[str] | None = None  # every output in order when there are several (--outputs); None: output_name alone
    output_dtypes: list[str] | None = None  # their element types (None: output_dtype for each)
    dynamic_batch: bool = False  # the runtime takes any batch size, not only the exported one
    methods: list[str] | None = None  # a multi-size artifact: the method / signature of each size, in size order
    color_layout: str | None = None  # an image input's pixel layout ("RGB"); None for a tensor input
    metadata: dict[str, Any] = field(default_factory=dict)  # delegation report, ops, recipe, ...


class Converter(ABC):
    """One target's pipeline. Subclasses set the class attributes and implement `convert`."""

    target: ClassVar[str]
    suffix: ClassVar[str]
    precisions: ClassVar[dict[str, str]]  # precision name -> one-line description
    extra: ClassVar[str]  # the pip extra that installs the toolchain
    modules: ClassVar[tuple[str, ...]]  # modules the toolchain must provide
    packages: ClassVar[tuple[str, ...]] = ()  # distributions whose versions go into sidecars
    calibrated: ClassVar[frozenset[str]] = frozenset()  # precisions that need calibration images
    reads: ClassVar[dict[str, tuple[str, ...] | None]] = {}  # target option -> precisions that read it (None: all)

    def uses(self, option: str, precision: str) -> bool:
        """Whether a conversion at `precision` reads target option `option` (`reads`)."""
        if option not in self.reads:
            return False
        precisions = self.reads[option]
        return precisions is None or precision in precisions

    def check_options(self, precision: str, extra: dict[str, Any]) -> dict[str, Any]:
        """The target options of one conversion, checked (BadRequest for a bad value) and in
        their canonical spelling, before any work; by default as given."""
        return dict(extra)

    def several_sizes_refusal(self, precision: str, extra: dict[str, Any]) -> str | None:
        """Why a conversion at `precision` cannot put several input sizes in one artifact, or None
        when it can; by default it cannot (a static export fixes the window padding to one size)."""
        return "its graph is exported at one static height and width"

    def check_sizes(self, precision: str, extra: dict[str, Any], sizes: list[Size]) -> None:
        """BadRequest before any work when several sizes are asked of a conversion that takes one."""
        why = self.several_sizes_refusal(precision, extra) if len(sizes) > 1 else None
        if why:
            refuse_several_sizes(self.target, why, ConvertOptions(precision, sizes[0], more_sizes=list(sizes[1:])))

    def check_available(self) -> None:
        """Raise MissingExtra naming the pip extra when the toolchain cannot be imported."""
        for module in self.modules:
            try:
                with silenced_imports():  # toolchains print version warnings and C++ logging on import
                    importlib.import_module(module)
            except Exception as exc:  # ImportError, or a broken install raising something else
                raise MissingExtra(
                    f"the {self.target} toolchain is not installed ({module}: {type(exc).__name__}); "
                    f'install it with: pip install "mvedge[{self.extra}]" -c constraints.txt'
                ) from exc

    def check_precision(self, precision: str) -> None:
        """Raise BadRequest when the target does not support the precision."""
        if precision not in self.precisions:
            raise BadRequest(
                f"target {self.target} does not support precision {precision!r}; choose one of {', '.join(self.precisions)}"
            )

    def toolchain_versions(self) -> dict[str, str]:
        """Installed versions of the packages this target uses (for sidecars)."""
        versions = {"torch": torch.__version__}
        for name in self.packages:
            try:
                versions[name] = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                versions[name] = "not installed"
        return versions

    @abstractmethod
    def convert(self, bundle: ModelBundle, options: ConvertOptions, out_path: Path, progress: Progress) -> ConversionResult:
        """Write the artifact for `bundle` at `out_path` (a temporary path the pipeline renames)."""
