"""MambaVision model: definition, chunked selective scan, configs, preprocessing, checkpoints."""

from mvedge.model.checkpoints import (
    CheckpointError,
    IgnoredWeightsWarning,
    UntrainedHeadWarning,
    checkpoint_filter_fn,
    detect_variant,
    load_checkpoint,
    read_state_dict,
    save_checkpoint,
)
from mvedge.model.configs import (
    DEFAULTS,
    VARIANTS,
    base_config,
    canonical_variant,
    config,
    output_size,
    resolve_config,
    small_config,
    tiny_config,
)
from mvedge.model.mambavision import LayerNorm2d, MambaVision, MambaVisionBackbone, build
from mvedge.model.preprocessing import Preprocessing, preprocessing
from mvedge.model.scan import DEFAULT_CHUNK_SIZE, SelectiveScan, selective_scan, selective_scan_reference

__all__ = [
    "CheckpointError",
    "DEFAULTS",
    "DEFAULT_CHUNK_SIZE",
    "IgnoredWeightsWarning",
    "LayerNorm2d",
    "MambaVision",
    "MambaVisionBackbone",
    "Preprocessing",
    "SelectiveScan",
    "UntrainedHeadWarning",
    "VARIANTS",
    "base_config",
    "build",
    "canonical_variant",
    "checkpoint_filter_fn",
    "config",
    "detect_variant",
    "load_checkpoint",
    "output_size",
    "preprocessing",
    "read_state_dict",
    "resolve_config",
    "save_checkpoint",
    "selective_scan",
    "selective_scan_reference",
    "small_config",
    "tiny_config",
]
