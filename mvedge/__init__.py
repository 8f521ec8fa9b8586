"""mvedge: take NVIDIA's MambaVision to phones (convert, quantize, verify, profile).

The public API re-exports the model package (`build`, the configs, `load_checkpoint`,
`save_checkpoint`, the selective scans) and adds `convert` (the `mvedge convert` command as a function) and `preprocess`
(one image as a model input).
"""

from mvedge.model import (
    VARIANTS,
    CheckpointError,
    IgnoredWeightsWarning,
    MambaVision,
    MambaVisionBackbone,
    Preprocessing,
    UntrainedHeadWarning,
    base_config,
    build,
    config,
    load_checkpoint,
    output_size,
    preprocessing,
    save_checkpoint,
    selective_scan,
    selective_scan_reference,
    small_config,
    tiny_config,
)

__version__ = "0.1.0"  # the one place the version is set (pyproject.toml reads it)

from mvedge.api import convert, preprocess  # noqa: E402  (after __version__, which sidecars read)

__all__ = [
    "CheckpointError",
    "IgnoredWeightsWarning",
    "MambaVision",
    "MambaVisionBackbone",
    "Preprocessing",
    "UntrainedHeadWarning",
    "VARIANTS",
    "__version__",
    "base_config",
    "build",
    "config",
    "convert",
    "load_checkpoint",
    "output_size",
    "preprocess",
    "preprocessing",
    "save_checkpoint",
    "selective_scan",
    "selective_scan_reference",
    "small_config",
    "tiny_config",
]
