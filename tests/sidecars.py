"""Complete sidecars for hand-made test artifacts (the reader refuses partial ones)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mvedge.artifact import InputSpec, OutputSpec, Sidecar, write_sidecar
from mvedge.model.preprocessing import Preprocessing


def make_sidecar(
    target: str = "onnx",
    precision: str = "fp32",
    shape: tuple[int, ...] = (1, 3, 16, 16),
    layout: str = "NCHW",
    dtype: str = "float32",
    classes: int = 5,
    conversion: dict[str, Any] | None = None,
    **fields: Any,
) -> Sidecar:
    """A sidecar as mvedge convert writes it, for an artifact with this input."""
    side = shape[2] if layout == "NCHW" else shape[1]
    values: dict[str, Any] = dict(
        mvedge_version="0.0.test",
        model="tiny",
        source="random",
        config={"num_classes": classes, "in_channels": shape[1] if layout == "NCHW" else shape[3], "image_size": side},
        target=target,
        precision=precision,
        input=InputSpec("image", list(shape), layout, dtype, shape[0]),
        output=OutputSpec([shape[0], classes]),
        preprocessing=Preprocessing(input_size=side).to_dict(),
        labels=None,
        toolchain={},
        options={},
        conversion=conversion or {},
        sha256="0" * 64,
        size_bytes=1,
        convert_seconds=0.1,
        drift=None,
        verification="not verified (--no-verify)",
    )
    values.update(fields)
    return Sidecar(**values)


def write_test_sidecar(artifact: Path, **kwargs: Any) -> Path:
    """Write `make_sidecar(**kwargs)` next to `artifact`; returns the artifact."""
    write_sidecar(artifact, make_sidecar(**kwargs))
    return artifact
