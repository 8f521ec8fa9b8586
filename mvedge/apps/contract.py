"""Contract vectors: what an app must compute from a few images, written by mvedge and checked by the
apps' own tests (JUnit on Android, XCTest on iOS) on the device.

For each image and artifact mvedge stores the source picture (PNG, lossless), the 8-bit RGB pixels
after resize and crop (`pixels.bin`, S x S x 3), the input tensor built from them in the
artifact's layout (`input.bin`, float32 little-endian; `input_q.bin` as well for integer inputs),
the logits the artifact gives for exactly that tensor in its own runtime here (`logits.bin`), and
the top-5 (softmax scores), with the tolerances of the artifact's target and precision (see
`mvedge.apps.tolerances`). The preprocessing is the sidecar's, computed by mvedge's one
implementation (`mvedge.data.images`: Pillow's resampling, torchvision's centre-crop offsets, 8-bit
pixels, then float32 normalisation), so an app that follows the sidecar can match the pixels exactly
and the tensor to float rounding.

Comparison rule (also written into contract.json for the apps):
- pixels: equal; input: max |app - expected| <= tolerance.input_abs;
- logits: max |app - expected| <= tolerance.logits_abs * max(1, max |expected|);
- top-5: for every expected entry, the app's softmax score of that class is within
  tolerance.score_abs, and the app's top-1 is the expected top-1 unless the expected top-1 and
  top-2 scores are closer than 2 x tolerance.score_abs (a near tie may swap on other kernels).
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

import mvedge
from mvedge.apps import tolerances
from mvedge.artifact import Sidecar, read_sidecar, sha256_of
from mvedge.data.images import adapt_channels, normalise
from mvedge.data.images import pixels as pixels_for
from mvedge.model.bundle import DIGITS
from mvedge.model.preprocessing import Preprocessing
from mvedge.errors import BadInput

SCHEMA = "mvedge.contract/1"
DEFAULT_IMAGE_COUNT = 4
TOP_K = 5
PHOTO_MAX_SIDE = 320  # contract photos are downscaled to this (the PNG is the source the app reads)

RULE = (
    "pixels equal; input max abs diff <= tolerance.input_abs; logits max abs diff <= tolerance.logits_abs * "
    "max(1, max|expected logits|); for each expected top-k entry the app's softmax score of that class is within "
    "tolerance.score_abs, and the app's top-1 equals the expected top-1 unless expected top-1 and top-2 scores "
    "differ by less than 2 * tolerance.score_abs"
)


def tolerance_for(precision: str | None, target: str | None = None) -> dict[str, float]:
    """How far a device runtime may land from the expected outputs for the same input: measured on
    ARM64 kernels (emulated) against x86 times a safety factor, or a documented floor (tolerances.json)."""
    return tolerances.tolerance_for(precision, target)


# ------------------------------------------------------------------ preprocessing, as the apps do it


def preprocessing_from_sidecar(sidecar: dict) -> Preprocessing:
    """The sidecar's (or a contract entry's) preprocessing section as a `Preprocessing`."""
    spec = sidecar.get("preprocessing")
    if not isinstance(spec, dict):
        raise BadInput("the sidecar has no preprocessing section; re-run mvedge convert to get a complete sidecar")
    return Preprocessing.from_dict(spec, "the sidecar's preprocessing")


def tensor_from_pixels(pixels: np.ndarray, pre: Preprocessing, channels: int = 3) -> np.ndarray:
    """(pixels / 255 - mean) / std in float32, channels first (C, S, S); for a model with another
    channel count than 3, the normalised RGB planes are averaged and repeated."""
    return adapt_channels(normalise(pixels, pre), channels)


def to_layout(chw: np.ndarray, layout: str) -> np.ndarray:
    """(C, S, S) -> the artifact's batch-1 input, NCHW or NHWC."""
    if layout == "NCHW":
        return chw[None]
    if layout == "NHWC":
        return np.ascontiguousarray(chw.transpose(1, 2, 0))[None]
    raise ValueError(f"input layout must be NCHW or NHWC, got {layout!r}")


def to_nchw(tensor: np.ndarray, layout: str) -> np.ndarray:
    """The artifact-layout input back to NCHW (what mvedge's runners take)."""
    return tensor if layout == "NCHW" else np.ascontiguousarray(tensor.transpose(0, 3, 1, 2))


def quantize(tensor: np.ndarray, quantization: dict, dtype: str) -> np.ndarray:
    """Float input to an integer input tensor: clip(round_half_even(x / scale) + zero_point)."""
    kind = np.dtype(dtype)
    info = np.iinfo(kind)
    scale, zero_point = float(quantization["scale"]), int(quantization["zero_point"])
    return np.clip(np.round(tensor / np.float32(scale)) + zero_point, info.min, info.max).astype(kind)


# ------------------------------------------------------------------ scores


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax in float64 (the scores the apps show)."""
    z = np.asarray(logits, dtype=np.float64).reshape(-1)
    e = np.exp(z - z.max())
    return e / e.sum()


def top_k(scores: np.ndarray, labels: list[str] | None, k: int = TOP_K) -> list[dict[str, Any]]:
    """The k best classes, best first; ties go to the lower class index."""
    order = np.argsort(-np.asarray(scores), kind="stable")[: min(k, len(scores))]
    return [{"index": int(i), "label": labels[i] if labels and i < len(labels) else None, "score": float(scores[i])} for i in order]


def compare_outputs(expected_logits: np.ndarray, expected_top: list[dict], logits: np.ndarray, tolerance: dict[str, float]) -> list[str]:
    """Problems (empty when none) of `logits` against the expected ones under the contract's rule."""
    expected_logits = np.asarray(expected_logits, dtype=np.float64).reshape(-1)
    logits = np.asarray(logits, dtype=np.float64).reshape(-1)
    if logits.shape != expected_logits.shape:
        return [f"{logits.size} outputs, expected {expected_logits.size}"]
    problems = []
    bound = tolerance["logits_abs"] * max(1.0, float(np.abs(expected_logits).max()))
    diff = float(np.abs(logits - expected_logits).max())
    if not diff <= bound:
        problems.append(f"logits differ by {diff:.3g} (allowed {bound:.3g})")
    scores = softmax(logits)
    for entry in expected_top:
        got = float(scores[entry["index"]])
        if not abs(got - entry["score"]) <= tolerance["score_abs"]:
            problems.append(f"class {entry['index']} score {got:.6f}, expected {entry['score']:.6f} (+-{tolerance['score_abs']})")
    if expected_top:
        best = int(np.argsort(-scores, kind="stable")[0])
        gap = expected_top[0]["score"] - expected_top[1]["score"] if len(expected_top) > 1 else math.inf
        if best != expected_top[0]["index"] and gap >= 2 * tolerance["score_abs"]:
            problems.append(f"top-1 is class {best}, expected class {expected_top[0]['index']}")
    return problems


# ------------------------------------------------------------------ images


@dataclass
class ContractImage:
    """A source picture of the contract and what it shows."""

    name: str
    image: Image.Image
    label: int | None
    source: str


def contract_images(sidecar: dict, count: int = DEFAULT_IMAGE_COUNT) -> list[ContractImage]:
    """`count` real pictures: held-out digits of distinct classes for a digits-domain model,
    else downscaled crops of the photos that ship with scikit-learn / scikit-image."""
    if count < 1:
        raise BadInput(f"the contract needs at least one image, got {count}")
    if Sidecar.domain_of(sidecar) == DIGITS:
        from mvedge.data.digits import digits_split, split_indices

        pictures, labels = digits_split("test")
        indices = split_indices("test")
        chosen, seen = [], set()
        for position, label in enumerate(labels):
            if int(label) not in seen:
                seen.add(int(label))
                chosen.append(position)
            if len(chosen) == count:
                break
        for position in range(len(labels)):  # more images than classes: fill in order
            if len(chosen) == count:
                break
            if position not in chosen:
                chosen.append(position)
        return [
            ContractImage(f"digit-{int(indices[p]):04d}", pictures[p], int(labels[p]), f"scikit-learn digits #{int(indices[p])} (held out)")
            for p in chosen
        ]
    from mvedge.data.photos import crops, packaged_photos

    photos = packaged_photos()
    per_photo = max(1, -(-count // len(photos)))
    pictures = [crop for photo in photos for crop in crops(photo, per_photo)][:count]
    out = []
    for i, picture in enumerate(pictures):
        picture = picture.convert("RGB")
        picture.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE), Image.Resampling.BICUBIC)
        out.append(ContractImage(f"photo-{i:02d}", picture, None, "crop of a photo packaged with scikit-learn/scikit-image"))
    return out


def png_bytes(image: Image.Image) -> bytes:
    """Lossless PNG of an RGB picture (what the apps decode)."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


# ------------------------------------------------------------------ artifacts


def input_spec(sidecar: dict) -> dict[str, Any]:
    """The sidecar's input section, checked for what the apps support (batch 1, NCHW/NHWC, 4-D)."""
    spec = sidecar.get("input") or {}
    shape, layout = spec.get("shape"), spec.get("layout")
    if not shape or len(shape) != 4 or layout not in ("NCHW", "NHWC"):
        raise BadInput(f"the sidecar's input must be a 4-D NCHW or NHWC tensor, got shape {shape} layout {layout}")
    if int(shape[0]) != 1:
        raise BadInput(f"the demo apps feed one image at a time; this artifact's batch is {shape[0]} (convert with batch 1)")
    return spec


def image_input(sidecar: dict) -> bool:
    """Whether the artifact takes an 8-bit image (Core ML image input) rather than a tensor."""
    return sidecar.get("target") == "coreml" and (sidecar.get("conversion") or {}).get("input_kind", "image") == "image"


def stem(file_name: str) -> str:
    """The folder name of an artifact's vectors: its file name without the suffix."""
    return Path(file_name).stem


def _runner(artifact: Path):
    from mvedge.verify.runners import open_runner

    return open_runner(artifact)


def build_entry(artifact: Path, sidecar: dict, runtime: str, images: list[ContractImage], runner=None) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The contract entry of one artifact and its vector files (path in the contract folder -> bytes).

    The logits are what the artifact gives here, in its own runtime, for exactly the stored input."""
    spec = input_spec(sidecar)
    pre = preprocessing_from_sidecar(sidecar)
    layout, dtype = spec["layout"], spec.get("dtype", "float32")
    channels = int(spec["shape"][1] if layout == "NCHW" else spec["shape"][3])
    height, width = (int(v) for v in (spec["shape"][2:4] if layout == "NCHW" else spec["shape"][1:3]))
    sizes = spec.get("sizes") or [[height, width]]
    if height != width or len(sizes) > 1:
        taken = ", ".join(f"{h}x{w}" for h, w in sizes)
        raise BadInput(
            f"{artifact.name}: the demo apps take one square input size, and this artifact takes {taken}; "
            f"convert one for the app with a square --image-size (e.g. --image-size {max(height, width)})"
        )
    size = height
    if size != pre.input_size:
        raise BadInput(f"{artifact.name}: input side {size} differs from the preprocessing input_size {pre.input_size}")
    labels = sidecar.get("labels")
    runner = runner or _runner(artifact)
    folder = stem(artifact.name)
    files: dict[str, bytes] = {}
    cases = []
    quantized = not image_input(sidecar) and np.dtype(dtype).kind in "iu"
    stored_inputs = []
    for picture in images:
        pixels = pixels_for(picture.image, pre)
        tensor = to_layout(tensor_from_pixels(pixels, pre, channels), layout).astype("<f4")
        files[f"{folder}/{picture.name}.pixels.bin"] = pixels.tobytes()
        files[f"{folder}/{picture.name}.input.bin"] = tensor.tobytes()
        stored_inputs.append(np.frombuffer(files[f"{folder}/{picture.name}.input.bin"], dtype="<f4").reshape(tensor.shape))
    if getattr(runner, "whole_set", False):  # an emulated runner: one run for all images
        all_logits = np.asarray(runner.run_all(np.concatenate([to_nchw(s.copy(), layout) for s in stored_inputs])), dtype=np.float32)
    for number, (picture, stored) in enumerate(zip(images, stored_inputs)):
        if getattr(runner, "whole_set", False):
            logits = all_logits[number].reshape(-1)
        else:
            logits = np.asarray(runner.run_all(to_nchw(stored.copy(), layout)), dtype=np.float32).reshape(-1)
        files[f"{folder}/{picture.name}.logits.bin"] = logits.astype("<f4").tobytes()
        case = {
            "image": picture.name,
            "pixels": f"{folder}/{picture.name}.pixels.bin",
            "input": f"{folder}/{picture.name}.input.bin",
            "input_quantized": None,
            "logits": f"{folder}/{picture.name}.logits.bin",
            "top5": top_k(softmax(logits), labels),
        }
        if quantized:
            q = quantize(stored, spec["quantization"], dtype)
            files[f"{folder}/{picture.name}.input_q.bin"] = q.tobytes()
            case["input_quantized"] = f"{folder}/{picture.name}.input_q.bin"
        cases.append(case)
    entry = {
        "file": artifact.name,
        "sha256": sha256_of(artifact),
        "runtime": runtime,
        "target": sidecar.get("target"),
        "precision": sidecar.get("precision"),
        "image_input": image_input(sidecar),
        "input": {k: spec.get(k) for k in ("name", "shape", "layout", "dtype", "quantization")},
        "pixels_shape": [pre.input_size, pre.input_size, 3],
        "preprocessing": pre.to_dict(),
        "channels": channels,
        "num_outputs": int(logits.size),
        "labels_count": len(labels) if labels else 0,
        "tolerance": tolerance_for(sidecar.get("precision"), sidecar.get("target")),
        "tolerance_basis": tolerances.basis_for(sidecar.get("precision"), sidecar.get("target")),
        "expected_from": f"{getattr(runner, 'runtime', None) or type(runner).__name__} on {getattr(runner, 'emulated_host', None) or _host()}",
        "cases": cases,
    }
    return entry, files


def _host() -> str:
    import platform

    return f"{platform.system()} {platform.machine()}"


def contract_document(app: str, images: list[ContractImage], entries: list[dict[str, Any]]) -> dict[str, Any]:
    """contract.json: the images, the rule and one entry per artifact."""
    return {
        "schema": SCHEMA,
        "mvedge_version": mvedge.__version__,
        "app": app,
        "rule": RULE,
        "images": [
            {"name": p.name, "file": f"images/{p.name}.png", "width": p.image.width, "height": p.image.height, "label": p.label, "source": p.source}
            for p in images
        ],
        "artifacts": entries,
    }


# ------------------------------------------------------------------ checking a written contract


def read_vector(contract_dir: Path, relative: str, dtype: str, shape: list[int] | tuple[int, ...]) -> np.ndarray:
    """A stored vector (little-endian) with its expected element count checked."""
    data = (contract_dir / relative).read_bytes()
    array = np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<"))
    if array.size != int(np.prod(shape)):
        raise BadInput(f"{relative}: {array.size} values, expected {int(np.prod(shape))} for shape {list(shape)}")
    return array.reshape(shape)


def check_contract(contract_dir: str | Path, models_dir: str | Path, run: bool = True) -> list[str]:
    """Every problem of a written contract (empty list: it holds): each stored pixel and input
    vector is re-derived from its PNG with the entry's preprocessing, and (with `run`) each artifact
    in `models_dir` is run on the stored input and compared with the stored logits and top-5."""
    contract_dir, models_dir = Path(contract_dir), Path(models_dir)
    document = json.loads((contract_dir / "contract.json").read_text())
    if document.get("schema") != SCHEMA:
        return [f"contract schema is {document.get('schema')!r}, expected {SCHEMA!r}"]
    problems: list[str] = []
    pictures = {p["name"]: Image.open(contract_dir / p["file"]).convert("RGB") for p in document["images"]}
    for entry in document["artifacts"]:
        name = entry["file"]
        artifact = models_dir / name
        if not artifact.exists():
            problems.append(f"{name}: not in {models_dir}")
            continue
        if sha256_of(artifact) != entry["sha256"]:
            problems.append(f"{name}: sha256 differs from the contract's (the contract was written for another file)")
        spec = entry["input"]
        pre = preprocessing_from_sidecar(entry)
        # the app feeds the stored bytes straight into the model's input, whose shape and layout are
        # the artifact's (its sidecar), so that is how they are run here too
        sidecar = read_sidecar(artifact, required=False)  # an app may hold a model without its sidecar
        actual = input_spec(sidecar.to_dict()) if sidecar is not None else spec
        if sidecar is not None:
            if [spec.get(k) for k in ("shape", "layout", "dtype")] != [actual.get(k) for k in ("shape", "layout", "dtype")]:
                problems.append(f"{name}: contract input {spec.get('layout')} {spec.get('shape')} differs from the artifact's sidecar ({actual.get('layout')} {actual.get('shape')})")
            if preprocessing_from_sidecar(sidecar.to_dict()) != pre:
                problems.append(f"{name}: contract preprocessing differs from the artifact's sidecar")
        runner = _runner(artifact) if run else None
        for case in entry["cases"]:
            where = f"{name} / {case['image']}"
            pixels = read_vector(contract_dir, case["pixels"], "uint8", entry["pixels_shape"])
            expected_pixels = pixels_for(pictures[case["image"]], pre)
            if not np.array_equal(pixels, expected_pixels):
                problems.append(f"{where}: stored pixels differ from the image preprocessed per the contract")
            tensor = read_vector(contract_dir, case["input"], "float32", spec["shape"])
            rebuilt = to_layout(tensor_from_pixels(expected_pixels, pre, entry["channels"]), spec["layout"])
            diff = float(np.abs(tensor - rebuilt).max())
            if not diff <= entry["tolerance"]["input_abs"]:
                problems.append(f"{where}: stored input differs from the preprocessed image by {diff:.3g} (layout {spec['layout']}, mean {list(pre.mean)})")
            if case.get("input_quantized"):
                q = read_vector(contract_dir, case["input_quantized"], spec["dtype"], spec["shape"])
                if not np.array_equal(q, quantize(tensor, spec["quantization"], spec["dtype"])):
                    problems.append(f"{where}: stored quantized input is not the quantized stored input")
            if runner is None:
                continue
            fed = tensor.astype(np.float32).reshape(actual["shape"])
            logits = np.asarray(runner.run_all(to_nchw(fed, actual["layout"])), dtype=np.float32)
            expected = read_vector(contract_dir, case["logits"], "float32", [entry["num_outputs"]])
            problems += [f"{where}: {p}" for p in compare_outputs(expected, case["top5"], logits, entry["tolerance"])]
    return problems
