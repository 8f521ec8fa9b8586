"""What an artifact is and what its sidecar says: the one table of artifact types (suffix, target,
runtime), the artifact's sha256 and size, and the typed sidecar mvedge convert writes next to it.

The sidecar is '<artifact name>.json' next to the artifact. It is strict JSON: a non-finite float
(PSNR of identical outputs is +inf) is written as the string "NaN", "Infinity" or "-Infinity"
(see mvedge.strict_json), and `read_sidecar` reads those back as floats. Its "schema" field is
"mvedge.sidecar/1"; sidecars written before the field existed carry the same keys and are read as
that version. The keys are read by `mvedge verify`, `profile` and `bundle` and by the demo apps
(android_demo, ios_demo), so they only ever grow: keys added later (the weights' license, the
source checkpoint's sha256, the output's name and dtype, dynamic_batch, an image input's
color_layout, the `outputs` list of every output with its stride, channels and layout) read as
None / False from older sidecars, whose one output is `output` (`Sidecar.all_outputs` gives both
kinds as a list; `output` stays the first output for readers that know only it). `input.shape` stays numbers at the
exported batch; a runtime that takes any batch says so with `dynamic_batch`. A multi-size artifact
adds `input.sizes` ([height, width] each, `shape` at the first) and, for ExecuTorch and LiteRT,
`input.methods` (the method or signature of each size; an ONNX or Core ML model takes every size
through its one input), and its `drift` names the worst size with every size's numbers under
`drift.sizes`; single-size sidecars have neither key.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mvedge import strict_json
from mvedge.errors import BadInput

SCHEMA = "mvedge.sidecar/1"
DIGITS, PHOTOS = "digits", "photos"  # the data domains of mvedge.model.bundle, as sidecars spell them


@dataclass(frozen=True)
class ArtifactType:
    """One kind of artifact file: its suffix, the convert target that writes it, the runtime that
    runs it, and whether mvedge can run it on this machine (a compiled .mlmodelc runs only on Apple
    devices)."""

    suffix: str
    target: str
    runtime: str
    runs_on_host: bool = True


ARTIFACT_TYPES: tuple[ArtifactType, ...] = (
    ArtifactType(".onnx", "onnx", "onnxruntime"),
    ArtifactType(".pte", "executorch", "executorch"),
    ArtifactType(".tflite", "tflite", "litert"),
    ArtifactType(".mlpackage", "coreml", "coreml"),
    ArtifactType(".mlmodelc", "coreml", "coreml", runs_on_host=False),
)
BY_SUFFIX: dict[str, ArtifactType] = {t.suffix: t for t in ARTIFACT_TYPES}
RUNTIME_OF_TARGET: dict[str, str] = {t.target: t.runtime for t in ARTIFACT_TYPES}


def artifact_type(path: str | Path) -> ArtifactType:
    """The type of the artifact at `path`, from its suffix; BadInput for an unknown file type."""
    path = Path(path)
    kind = BY_SUFFIX.get(path.suffix)
    if kind is None:
        raise BadInput(
            f"unknown artifact type {path.suffix!r} for {str(path)!r}; expected one of {', '.join(BY_SUFFIX)} (a file written by mvedge convert)"
        )
    return kind


def target_of(path: str | Path) -> str:
    """The convert target an artifact file belongs to (onnx, executorch, tflite, coreml)."""
    return artifact_type(path).target


def runtime_of(path: str | Path) -> str:
    """The runtime that runs an artifact (onnxruntime, executorch, litert, coreml)."""
    return artifact_type(path).runtime


def checked_artifact(path: str | Path) -> Path:
    """The artifact's path after checking it exists and has a known type (BadInput otherwise)."""
    path = Path(path)
    if not path.exists():
        raise BadInput(f"artifact {str(path)!r} does not exist; check the path (mvedge convert writes artifacts to --out)")
    artifact_type(path)
    return path


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]


def sha256_of(path: str | Path) -> str:
    """sha256 of a file, or of a folder (an .mlpackage): each file's path relative to the folder and
    then its contents, files in sorted path order."""
    path = Path(path)
    digest = hashlib.sha256()
    for file in _files(path):
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def size_of(path: str | Path) -> int:
    """Bytes of a file, or of all files in a folder."""
    path = Path(path)
    return sum(file.stat().st_size for file in _files(path))


def sidecar_path(artifact: str | Path) -> Path:
    """Where an artifact's sidecar lives: next to it, '<artifact name>.json'."""
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".json")


# ------------------------------------------------------------------ the sidecar


class _Fields:
    """Typed reads from one JSON object of a sidecar; BadInput names the field and the fix."""

    def __init__(self, data: Any, where: str, prefix: str = "") -> None:
        self.where, self.prefix = where, prefix
        if not isinstance(data, dict):
            raise self.error(prefix.rstrip(".") or "the document", "must be a JSON object")
        self.data = data

    def error(self, name: str, problem: str) -> BadInput:
        return BadInput(f"{self.where}: field {name!r} {problem}; re-run mvedge convert to write a complete sidecar")

    def get(self, key: str, kinds: tuple[type, ...], optional: bool = False) -> Any:
        name = self.prefix + key
        if key not in self.data:
            raise self.error(name, "is missing")
        value = self.data[key]
        if value is None and optional:
            return None
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            expected = " or ".join({dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number", bool: "true or false"}[k] for k in kinds)
            raise self.error(name, f"must be {expected}{' or null' if optional else ''}, got {value!r}"[:300])
        return value

    def absent_or(self, key: str, kinds: tuple[type, ...], default: Any) -> Any:
        """A field added in a later mvedge: `default` when the sidecar predates it (or holds null)."""
        if self.data.get(key) is None:
            return default
        return self.get(key, kinds)

    def ints(self, key: str) -> list[int]:
        values = self.get(key, (list,))
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise self.error(self.prefix + key, f"must be a list of integers, got {values!r}")
        return list(values)

    def number(self, key: str) -> float | None:
        if key not in self.data:
            raise self.error(self.prefix + key, "is missing")
        try:
            return strict_json.decode_float(self.data[key])
        except ValueError:
            raise self.error(self.prefix + key, f"must be a number, null, or \"NaN\"/\"Infinity\"/\"-Infinity\", got {self.data[key]!r}") from None

    def sub(self, key: str) -> _Fields:
        return _Fields(self.get(key, (dict,)), self.where, f"{self.prefix}{key}.")


def _drift_numbers(d: _Fields) -> dict[str, Any]:
    """A sidecar's drift with its numbers read back as floats ("Infinity" for identical outputs),
    those of each output (`outputs`) included."""
    drift = {**d.data, **{key: d.number(key) for key in DRIFT_NUMBERS if key in d.data}}
    if isinstance(d.data.get("outputs"), dict):
        outputs = d.sub("outputs")
        drift["outputs"] = {name: _drift_numbers(outputs.sub(name)) for name in outputs.data}
    return drift


@dataclass
class InputSpec:
    """The artifact's input: name (what the app binds: TFLite's signature input name), shape in
    its layout (NCHW or NHWC) at the exported batch, element type ("image" for a Core ML image
    input, whose pixels `color_layout` describes), the exported batch, whether the runtime also
    takes other batch sizes, and scale/zero_point for an integer input."""

    name: str
    shape: list[int]
    layout: str
    dtype: str
    batch: int
    quantization: dict[str, float] | None = None
    dynamic_batch: bool = False
    color_layout: str | None = None  # "RGB" for a Core ML image input
    sizes: list[list[int]] | None = None  # a multi-size artifact: every [height, width] it takes, `shape`'s first
    methods: list[str] | None = None  # and the method (ExecuTorch) or signature (LiteRT) of each size

    def nchw(self) -> tuple[int, int, int, int] | None:
        """(batch, channels, height, width), or None when the input is not a 4-D image tensor."""
        if len(self.shape) != 4:
            return None
        if self.layout == "NHWC":
            batch, height, width, channels = self.shape
        else:
            batch, channels, height, width = self.shape
        return int(batch), int(channels), int(height), int(width)

    @classmethod
    def from_fields(cls, f: _Fields) -> InputSpec:
        layout = f.get("layout", (str,))
        if layout not in ("NCHW", "NHWC"):
            raise f.error(f.prefix + "layout", f"must be NCHW or NHWC, got {layout!r}")
        return cls(
            f.get("name", (str,)), f.ints("shape"), layout, f.get("dtype", (str,)), f.get("batch", (int,)),
            f.get("quantization", (dict,), optional=True), f.absent_or("dynamic_batch", (bool,), False), f.absent_or("color_layout", (str,), None),
            *cls.sizes_of(f),
        )

    @staticmethod
    def sizes_of(f: _Fields) -> tuple[list[list[int]] | None, list[str] | None]:
        """`sizes` and `methods` of a multi-size artifact's input, checked; (None, None) when absent."""
        sizes = f.absent_or("sizes", (list,), None)
        if sizes is None:
            return None, None
        if not sizes or not all(isinstance(s, list) and len(s) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in s) for s in sizes):
            raise f.error(f.prefix + "sizes", f"must be a non-empty list of [height, width] pairs, got {sizes!r}"[:300])
        methods = f.absent_or("methods", (list,), None)
        if methods is not None and (len(methods) != len(sizes) or not all(isinstance(m, str) for m in methods)):
            raise f.error(f.prefix + "methods", f"must name one method per size ({len(sizes)}), got {methods!r}"[:300])
        return [list(s) for s in sizes], methods

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "shape": list(self.shape),
            "layout": self.layout,
            "dtype": self.dtype,
            "batch": self.batch,
            "dynamic_batch": self.dynamic_batch,
            "color_layout": self.color_layout,
            "quantization": self.quantization,
        }
        if self.sizes is not None:  # only multi-size artifacts: single-size sidecars keep their keys
            out["sizes"] = [list(s) for s in self.sizes]
            out["methods"] = self.methods
        return out

    def all_sizes(self) -> list[tuple[int, int]]:
        """Every (height, width) the artifact takes: `sizes`, else the one of `shape`."""
        if self.sizes:
            return [(int(h), int(w)) for h, w in self.sizes]
        nchw = self.nchw()
        return [(nchw[2], nchw[3])] if nchw else []


@dataclass
class OutputSpec:
    """One output of the artifact: shape at the exported batch ((batch, classes or features), or
    (batch, channels, height, width) for a stage map), scale/zero_point when integer, its name and
    element type (None in sidecars written before they were recorded), whether the batch is
    dynamic, and, in sidecars that list `outputs`, its stride (input pixels per output pixel, None
    for a vector), channels and layout ("NC" or "NCHW")."""

    shape: list[int]
    quantization: dict[str, float] | None = None
    name: str | None = None
    dtype: str | None = None
    dynamic_batch: bool = False
    stride: int | None = None
    channels: int | None = None
    layout: str | None = None

    @classmethod
    def from_fields(cls, f: _Fields) -> OutputSpec:
        return cls(
            f.ints("shape"), f.get("quantization", (dict,), optional=True),
            f.absent_or("name", (str,), None), f.absent_or("dtype", (str,), None), f.absent_or("dynamic_batch", (bool,), False),
            f.absent_or("stride", (int,), None), f.absent_or("channels", (int,), None), f.absent_or("layout", (str,), None),
        )

    def to_dict(self) -> dict[str, Any]:
        described = {"stride": self.stride, "channels": self.channels, "layout": self.layout} if self.layout else {}
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype, "dynamic_batch": self.dynamic_batch, "quantization": self.quantization, **described}


DRIFT_NUMBERS = ("max_abs", "mean_abs", "cosine", "psnr_db", "top1_agreement", "top5_overlap", "accuracy", "reference_accuracy")


@dataclass
class Sidecar:
    """Everything mvedge convert records about an artifact. `config`, `preprocessing`, `toolchain`,
    `options` and `conversion` are free-form objects owned by the model, converter and quantizer;
    `sha256` to `verification` are filled in once the artifact is written and checked."""

    mvedge_version: str
    model: str
    source: str
    config: dict[str, Any]
    target: str
    precision: str
    input: InputSpec
    output: OutputSpec
    preprocessing: dict[str, Any]
    labels: list[str] | None
    toolchain: dict[str, str]
    options: dict[str, Any]
    conversion: dict[str, Any]
    sha256: str | None = None
    size_bytes: int | None = None
    convert_seconds: float | None = None
    drift: dict[str, Any] | None = None
    verification: str | None = None
    domain: str = PHOTOS  # which bundled images fit the model: "digits" or "photos"
    license: str | None = None  # the weights' license (None: a sidecar written before it was recorded)
    source_sha256: str | None = None  # sha256 of the source checkpoint file; None for embedded / random weights
    outputs: list[OutputSpec] | None = None  # every output in order (None: a sidecar from before, whose one output is `output`)
    schema: str = SCHEMA
    extra: dict[str, Any] = field(default_factory=dict)  # keys a newer mvedge wrote; kept on rewrite

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, keys in the order mvedge has always written them (schema first)."""
        return {
            "schema": self.schema,
            "mvedge_version": self.mvedge_version,
            "model": self.model,
            "source": self.source,
            "domain": self.domain,
            "license": self.license,
            "source_sha256": self.source_sha256,
            "config": self.config,
            "target": self.target,
            "precision": self.precision,
            "input": self.input.to_dict(),
            "output": self.output.to_dict(),
            **({"outputs": [o.to_dict() for o in self.outputs]} if self.outputs is not None else {}),
            "preprocessing": self.preprocessing,
            "labels": self.labels,
            "toolchain": self.toolchain,
            "options": self.options,
            "conversion": self.conversion,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "convert_seconds": self.convert_seconds,
            "drift": self.drift,
            "verification": self.verification,
            **self.extra,
        }

    def to_json(self) -> str:
        """Strict JSON text (non-finite floats as "NaN"/"Infinity"/"-Infinity" strings)."""
        return strict_json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, data: Any, where: str = "sidecar") -> Sidecar:
        """A sidecar from its JSON object; BadInput naming the first missing or malformed field."""
        f = _Fields(data, where)
        schema = data.get("schema", SCHEMA)
        if schema != SCHEMA:
            raise BadInput(f"{where}: schema {schema!r} is not {SCHEMA!r}; convert the artifact again with this mvedge, or use the mvedge that wrote it")
        target = f.get("target", (str,))
        if target not in RUNTIME_OF_TARGET:
            raise f.error("target", f"must be one of {', '.join(RUNTIME_OF_TARGET)}, got {target!r}")
        labels = f.get("labels", (list,), optional=True)
        if labels is not None and not all(isinstance(label, str) for label in labels):
            raise f.error("labels", "must be a list of strings")
        drift = f.get("drift", (dict,), optional=True)
        if drift is not None:
            drift = _drift_numbers(f.sub("drift"))
        size = f.get("size_bytes", (int,), optional=True)
        seconds = f.number("convert_seconds")
        known = {"schema", *(name for name in cls.__dataclass_fields__ if name not in ("schema", "extra"))}
        return cls(
            mvedge_version=f.get("mvedge_version", (str,)),
            model=f.get("model", (str,)),
            source=f.get("source", (str,)),
            config=f.get("config", (dict,)),
            target=target,
            precision=f.get("precision", (str,)),
            input=InputSpec.from_fields(f.sub("input")),
            output=OutputSpec.from_fields(f.sub("output")),
            preprocessing=f.get("preprocessing", (dict,)),
            labels=labels,
            toolchain=f.get("toolchain", (dict,)),
            options=f.get("options", (dict,)),
            conversion=f.get("conversion", (dict,)),
            sha256=f.get("sha256", (str,), optional=True),
            size_bytes=size,
            convert_seconds=seconds,
            drift=drift,
            verification=f.get("verification", (str,), optional=True),
            domain=cls.domain_of(data, f),
            license=f.absent_or("license", (str,), None),
            source_sha256=f.absent_or("source_sha256", (str,), None),
            outputs=cls.outputs_of(f),
            extra={k: v for k, v in data.items() if k not in known},
        )

    @staticmethod
    def outputs_of(f: _Fields) -> list[OutputSpec] | None:
        """The `outputs` list, each entry checked like `output`; None when the sidecar has none."""
        values = f.absent_or("outputs", (list,), None)
        if values is None:
            return None
        if not values:
            raise f.error("outputs", "must list at least one output")
        return [OutputSpec.from_fields(_Fields(v, f.where, f"outputs[{i}].")) for i, v in enumerate(values)]

    def all_outputs(self) -> list[OutputSpec]:
        """Every output in output order: the `outputs` list, or the one `output` of an older sidecar."""
        return list(self.outputs) if self.outputs else [self.output]

    @staticmethod
    def domain_of(data: dict[str, Any], fields: _Fields | None = None) -> str:
        """The data domain a sidecar's JSON object records; sidecars written before the field
        existed are "digits" when they came from the embedded model, else "photos"."""
        domain = data.get("domain")
        if domain is None:
            return DIGITS if data.get("source") == "embedded" else PHOTOS
        if domain not in (DIGITS, PHOTOS):
            raise (fields or _Fields(data, "sidecar")).error("domain", f"must be {DIGITS!r} or {PHOTOS!r}, got {domain!r}")
        return domain

    def input_shape(self) -> tuple[int, int, int, int] | None:
        """(batch, channels, height, width) of the input, or None when it is not a 4-D image."""
        return self.input.nchw()

    @property
    def backend(self) -> str | None:
        """The delegate backend a .pte was lowered to (conversion.backend), if the converter said."""
        return self.conversion.get("backend")


def write_sidecar(artifact: str | Path, sidecar: Sidecar) -> Path:
    """Write `sidecar` next to `artifact` atomically (temporary file, then rename); nothing is
    written when it cannot be serialised."""
    return strict_json.write_atomic(sidecar_path(artifact), sidecar.to_dict(), indent=1, newline=False)


def read_sidecar(artifact: str | Path, required: bool = True) -> Sidecar | None:
    """The sidecar next to `artifact`. A missing sidecar is BadInput (with `required=False`: None,
    for callers that work on a bare artifact); unreadable JSON or a missing or malformed field is
    BadInput naming the file and the field."""
    artifact = Path(artifact)
    path = sidecar_path(artifact)
    if not path.is_file():
        if not required:
            return None
        raise BadInput(
            f"{artifact.name} has no sidecar ({path}); re-run mvedge convert to write it, or put the {path.name} it was converted with next to it"
        )
    try:
        data = json.loads(path.read_text(), parse_constant=_legacy_constant)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BadInput(f"{path} is not readable JSON ({exc}); re-run mvedge convert for this artifact") from exc
    return Sidecar.from_dict(data, str(path))


def precision_of(artifact: str | Path) -> str | None:
    """The precision the artifact's sidecar records; None for a bare artifact without a sidecar."""
    sidecar = read_sidecar(artifact, required=False)
    return sidecar.precision if sidecar is not None else None


def _legacy_constant(name: str) -> float:
    """Sidecars written before mvedge wrote strict JSON may hold NaN/Infinity literals: read them as
    the numbers they meant."""
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


__all__ = [
    "ARTIFACT_TYPES", "ArtifactType", "InputSpec", "OutputSpec", "RUNTIME_OF_TARGET", "SCHEMA", "Sidecar",
    "artifact_type", "checked_artifact", "precision_of", "read_sidecar", "runtime_of", "sha256_of", "sidecar_path", "size_of",
    "target_of", "write_sidecar",
]
