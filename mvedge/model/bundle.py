"""The model a command works on, resolved in one place: a checkpoint (QAT metadata applied), a
named variant with random weights, or the embedded digits model, with what converters and apps
need to ship it (name, config, preprocessing, labels) and the domain of images that fit it."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from mvedge.errors import BadInput
from mvedge.model.checkpoints import (
    CheckpointError,
    load_checkpoint_file,
    locate_checkpoint,
    read_safetensors_metadata,
    replace_head,
    untrained_head_message,
)
from mvedge.model.configs import OFFICIAL_NUM_CLASSES, VARIANTS, canonical_variant, config
from mvedge.model.labels import imagenet1k_labels, read_labels_file
from mvedge.model.mambavision import MambaVision, MambaVisionBackbone, build
from mvedge.model.outputs import OutputChoice
from mvedge.model.preprocessing import Preprocessing, preprocessing
from mvedge.model.sizes import Size, check_sizes, parse_sizes, size_tag, sizes_tag

DIGITS = "digits"
"""Domain of the embedded digits model and of checkpoints fine-tuned from it: checked and
calibrated on scikit-learn's handwritten digits."""

PHOTOS = "photos"
"""Domain of every other model: checked and calibrated on crops of packaged natural photos."""

QAT_KEY = "mvedge_qat"
"""The safetensors metadata entry of a QAT checkpoint (written by mvedge.quant.checkpoint)."""


@dataclass
class ModelBundle:
    """An eval-mode model and its metadata."""

    model: MambaVision
    name: str
    config: dict[str, Any]
    preprocessing: Preprocessing
    labels: list[str] | None = None
    source: str = ""  # checkpoint path, Hub repository@commit, "embedded" or "random"
    source_file: str | None = None  # the local checkpoint file the weights were read from (a Hub download's cached file)
    extra: dict[str, Any] = field(default_factory=dict)
    domain: str = PHOTOS  # DIGITS or PHOTOS: which bundled images fit the model
    trained_size: int | tuple[int, int] | None = None  # the input size the weights were trained at, when --image-size changed it
    outputs: OutputChoice = field(default_factory=OutputChoice)  # what an artifact outputs (--outputs, --stages)
    more_sizes: list[Size] = field(default_factory=list)  # further input sizes of a multi-size artifact (--image-size 224,256x320)

    @property
    def image_size(self) -> int | tuple[int, int]:
        """The input size the model is converted at: a side, or (height, width) when not square
        (the first size of a multi-size artifact)."""
        return self.preprocessing.input_size

    @property
    def sizes(self) -> list[Size]:
        """Every input size an artifact of this bundle takes, (height, width) each, the first first."""
        return [self.preprocessing.size, *self.more_sizes]

    @property
    def size_label(self) -> str:
        """The sizes as names and messages write them: '224', '256x320', '224_256x320'."""
        return sizes_tag(self.sizes)

    def at_size(self, size: Size) -> ModelBundle:
        """A shallow copy of the bundle whose preprocessing (and only size) is `size`: the same model."""
        return dataclasses.replace(self, preprocessing=dataclasses.replace(self.preprocessing, input_size=size), more_sizes=[])

    @property
    def random_weights(self) -> bool:
        """Whether the weights are a random initialisation (fine for timing, not for accuracy)."""
        return self.source == "random"


def load_bundle(
    weights: str | None = None,
    variant: str | None = None,
    image_size: int | str | tuple[int, int] | list | None = None,
    labels: str | None = None,
    num_classes: int | None = None,
    backbone: bool = False,
) -> ModelBundle:
    """The model a command works on: a checkpoint file or Hugging Face repository id (a QAT
    checkpoint with its base model's preprocessing, labels and domain), else a named variant with
    random weights (`random_weights` says so), else the embedded digits model. An official variant
    with a 1000-class head is labelled with the ImageNet-1K class names. `image_size` (the
    --image-size option: a side, 'HxW', or a comma-separated list for a multi-size artifact)
    overrides the input size of any of them; BadInput when a side is below 1 or the total stride.
    `num_classes` (--num-classes) other than the model's keeps the backbone and gives a new,
    untrained head (`extra["untrained_head"]` holds the warning; no labels). `labels` (the
    --labels option) is a file of class names, one per line, that replaces the model's. A
    detection/segmentation backbone checkpoint is refused unless `backbone` (--outputs stages)."""
    sizes = parse_sizes(image_size)
    if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1):
        raise BadInput(f"--num-classes must be a positive integer, got {num_classes}")
    if weights:
        bundle = _from_checkpoint(str(weights), variant, backbone)
    elif variant:
        name = canonical_variant(variant)
        model = build(**{**config(name), **({"num_classes": num_classes} if num_classes else {})}).eval()
        bundle = ModelBundle(model, name, dict(model.config), preprocessing(name), _official_labels(name, model.config), "random")
    else:
        from mvedge.model.embedded import DEFAULT_MODEL_NAME, default_model_info, default_preprocessing, load_default_model

        model = load_default_model()
        names = list(default_model_info()["labels"])
        bundle = ModelBundle(model, DEFAULT_MODEL_NAME, dict(model.config), default_preprocessing(), names, "embedded", domain=DIGITS)
    if num_classes is not None and isinstance(bundle.model, MambaVisionBackbone) and num_classes != bundle.config.get("num_classes"):
        raise BadInput("--num-classes gives a classifier a new head; a detection/segmentation backbone has none: drop --num-classes")
    if num_classes is not None and num_classes != bundle.config.get("num_classes"):
        _with_new_head(bundle, num_classes)
    if sizes is not None:
        check_sizes(sizes, total_stride(bundle.model), size_tag(bundle.preprocessing.size))
        bundle.trained_size = bundle.image_size
        bundle.preprocessing = dataclasses.replace(bundle.preprocessing, input_size=sizes[0])
        bundle.more_sizes = list(sizes[1:])
        bundle.config["image_size"] = list(sizes[0]) if sizes[0][0] != sizes[0][1] else sizes[0][0]
    return with_labels_file(bundle, labels) if labels else bundle


LICENSE_DIGITS = "Apache-2.0 (mvedge's embedded digits model)"
LICENSE_OFFICIAL = "NVIDIA Source Code License-NC"
LICENSE_RANDOM = "none (random weights)"
LICENSE_UNKNOWN = "unknown (the checkpoint's own; check it before shipping)"


def weights_license(bundle: ModelBundle) -> str:
    """The license of the bundle's weights, for sidecars: mvedge's for the embedded digits model
    (and checkpoints tuned from it), NVIDIA's for official checkpoints, none for random weights."""
    if bundle.domain == DIGITS:
        return LICENSE_DIGITS
    if bundle.random_weights:
        return LICENSE_RANDOM
    qat = bundle.extra.get("qat") or {}
    official = bundle.name in VARIANTS or qat.get("base_name") in VARIANTS
    return LICENSE_OFFICIAL if official else LICENSE_UNKNOWN


def embedded_description(bundle: ModelBundle) -> dict[str, Any]:
    """What an artifact carries inside itself about its model (TFLite and ONNX metadata, next to
    the sidecar): name, preprocessing, labels and the weights' license."""
    import mvedge

    return {
        "mvedge_version": mvedge.__version__,
        "model": bundle.name,
        "preprocessing": bundle.preprocessing.to_dict(),
        "labels": list(bundle.labels) if bundle.labels else None,
        "license": weights_license(bundle),
    }


OWN_LABELS = "own_labels"
"""`ModelBundle.extra` key set when a labels file replaced the model's class names with others
(artifact names then carry a hash of them)."""


def with_labels_file(bundle: ModelBundle, path: str) -> ModelBundle:
    """The bundle with the class names of a labels file (one per line, as many as the head has
    classes); BadInput otherwise. Names that differ from the model's own are marked OWN_LABELS."""
    labels = read_labels_file(path, bundle.config.get("num_classes"))
    if labels != bundle.labels:
        bundle.extra[OWN_LABELS] = True
    bundle.labels = labels
    return bundle


SIZE_RANGE = (0.5, 2.0)
"""Input sides outside this range of the training size (as factors) usually cost accuracy: a note says so."""


def total_stride(model: nn.Module) -> int:
    """How many input pixels one pixel of the last stage covers along a side: the product of the
    strides of the stem and of every downsampler (32 for MambaVision: /4 then three /2)."""
    stride = 1
    stages = [getattr(model, "patch_embed", None)] + [getattr(level, "downsample", None) for level in getattr(model, "levels", [])]
    for stage in stages:
        for module in stage.modules() if stage is not None else ():
            if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
                step = module.stride if isinstance(module.stride, int) else module.stride[0]
                stride *= int(step)
    return stride


def size_note(bundle: ModelBundle) -> str | None:
    """A note when --image-size is far from the training size (outside SIZE_RANGE): the model
    still runs, but its accuracy at that size is not what it was trained for."""
    if bundle.trained_size is None:
        return None
    trained = bundle.trained_size if isinstance(bundle.trained_size, int) else min(bundle.trained_size)
    far = [s for s in bundle.sizes if not all(SIZE_RANGE[0] * trained <= side <= SIZE_RANGE[1] * trained for side in s)]
    if not far:
        return None
    return (
        f"note: --image-size {size_tag(far[0])} is outside {SIZE_RANGE[0]:g}x-{SIZE_RANGE[1]:g}x of the size the model was trained at "
        f"({trained}); expect lower accuracy (the drift check compares with the float model at the same size)"
    )


def _official_labels(name: str, config: dict[str, Any]) -> list[str] | None:
    """ImageNet-1K's class names for an official variant whose head has its 1000 classes."""
    return imagenet1k_labels() if name in VARIANTS and config.get("num_classes") == OFFICIAL_NUM_CLASSES else None


def _with_new_head(bundle: ModelBundle, num_classes: int) -> ModelBundle:
    """The bundle's backbone with a new, untrained `num_classes` head, without class names (a
    labels file must name them); the warning is kept in `extra["untrained_head"]`."""
    bundle.model = replace_head(bundle.model, num_classes)
    bundle.config["num_classes"] = num_classes
    bundle.labels = None
    if not bundle.random_weights:
        bundle.extra["untrained_head"] = untrained_head_message(num_classes, bundle.source)
    return bundle


def _from_checkpoint(weights: str, variant: str | None, backbone: bool = False) -> ModelBundle:
    """A checkpoint file or Hub repository: an official variant's preprocessing, ImageNet's for a
    custom model, and for a QAT checkpoint what its metadata records of the base model."""
    source = locate_checkpoint(weights)
    model = load_checkpoint_file(source, variant)
    if isinstance(model, MambaVisionBackbone) and not backbone:
        raise BadInput(
            f"checkpoint {source.label!r} is a detection/segmentation backbone without a classifier head; "
            "convert its stage maps with --outputs stages, or load it in Python with mvedge.load_checkpoint and use forward_intermediates"
        )
    name = getattr(model, "variant", None) or "custom"
    pre = preprocessing(name) if name in VARIANTS else Preprocessing(input_size=model.config["image_size"])
    bundle = ModelBundle(model, name, dict(model.config), pre, _official_labels(name, model.config), source.label)
    bundle.source_file = str(source.path)
    info = read_qat_info(source.path)
    return _with_qat_info(bundle, info, source.label) if info else bundle


def read_qat_info(path: str | os.PathLike | None) -> dict[str, Any] | None:
    """The QAT metadata of a .safetensors checkpoint, or None for any other checkpoint."""
    metadata = read_safetensors_metadata(path)
    if metadata is None or QAT_KEY not in metadata:
        return None
    try:
        info = json.loads(metadata[QAT_KEY])
    except ValueError as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} has an unreadable {QAT_KEY} metadata entry ({exc})") from exc
    if not isinstance(info, dict):
        raise CheckpointError(f"checkpoint {str(path)!r} has a {QAT_KEY} metadata entry that is not a JSON object")
    return info


def _with_qat_info(bundle: ModelBundle, info: dict[str, Any], path: str) -> ModelBundle:
    """The bundle with the base model's preprocessing, labels and domain, named as QAT-tuned."""
    if info.get("preprocessing"):
        bundle.preprocessing = Preprocessing.from_dict(info["preprocessing"], f"the {QAT_KEY} preprocessing of checkpoint {path!r}")
        bundle.config["image_size"] = bundle.preprocessing.input_size
    if info.get("labels"):
        bundle.labels = list(info["labels"])
    bundle.name = f"{info.get('base_name') or bundle.name}-qat-{info.get('target', 'int8')}"
    bundle.extra["qat"] = info
    recorded = info.get("domain")  # checkpoints from before the field: the base model's source says it
    bundle.domain = recorded if recorded in (DIGITS, PHOTOS) else DIGITS if info.get("base_source") == "embedded" else PHOTOS
    return bundle
