"""`mvedge bundle`: copy artifacts and their sidecars into a demo app, with sample pictures, an
index.json the app lists its models from, and contract vectors for the app's own tests.

Everything is built in a staging folder inside the app folder first (the artifacts are run there to
compute the expected outputs); only when all of it succeeded are the files renamed into place, so
a refused or failed bundle leaves the app as it was.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mvedge
from mvedge import strict_json
from mvedge.apps import contract as contract_vectors
from mvedge.apps.layout import CONTRACT_NAME, INDEX_NAME, AppLayout, check_app_dir, get_layout
from mvedge.atomic import move_into_place, staging_folder
from mvedge.artifact import Sidecar, checked_artifact, read_sidecar, sha256_of, sidecar_path, size_of
from mvedge.errors import BadInput
from mvedge.model.bundle import DIGITS
from mvedge.progress import Progress
from mvedge.verify.runners import open_runner

INDEX_SCHEMA = "mvedge.bundle/1"
DIGIT_SAMPLES = 10  # one held-out digit per class
PHOTO_SAMPLES = 4


@dataclass
class BundleResult:
    """What a bundle wrote: the app folder, the models (file, runtime, size) and the contract."""

    app: str
    app_dir: Path
    models: list[dict[str, Any]] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    contract_dir: Path | None = None
    contract_images: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON for --json."""
        return {
            "app": self.app,
            "app_dir": str(self.app_dir),
            "models": self.models,
            "samples": self.samples,
            "contract_dir": str(self.contract_dir) if self.contract_dir else None,
            "contract_images": self.contract_images,
        }



ARM64_BUNDLE_TARGETS = ("tflite", "executorch", "onnx")
"""Targets whose expected outputs `bundle --arch arm64` computes on emulated ARM64 (Core ML has no runtime there)."""

def check_artifacts(layout: AppLayout, artifacts: list[str | Path]) -> list[tuple[Path, Sidecar, str]]:
    """(path, sidecar, app runtime) per artifact, or BadInput naming the first problem."""
    if not artifacts:
        raise BadInput("no artifact given; pass one or more files written by mvedge convert")
    checked, names = [], set()
    for item in artifacts:
        path = checked_artifact(item)
        runtime = layout.runtime_for(path.suffix)
        if runtime is None:
            raise BadInput(f"the {layout.app} app cannot run {path.name} ({path.suffix or 'no suffix'}); it runs {', '.join(layout.suffixes)} files")
        if path.name in names:
            raise BadInput(f"{path.name} is given twice")
        names.add(path.name)
        sidecar = read_sidecar(path)
        if sidecar.precision == "coreml-fp16" or sidecar.backend == "coreml":
            raise BadInput(f"{path.name} is a Core ML-delegated .pte: it runs only on Apple devices, not in the Android app; bundle an XNNPACK .pte")
        if sidecar.config.get("num_classes") is None:
            raise BadInput(f"{path.name} outputs pooled features (no classifier head); the demo apps show class scores")
        contract_vectors.input_spec(sidecar.to_dict())
        contract_vectors.preprocessing_from_sidecar(sidecar.to_dict())
        checked.append((path, sidecar, runtime))
    return checked


def _sample_pictures(domains: list[str]) -> list[tuple[str, Any, str | None, str]]:
    """(file name, picture, label, kind) for the app's sample picker: one held-out digit per class
    when a digits model is bundled, a few packaged photos when a natural-image model is (`domains`:
    the sidecars' data domains)."""
    samples = []
    if any(d == DIGITS for d in domains):
        from mvedge.data.digits import digits_split

        pictures, labels = digits_split("test")
        seen: set[int] = set()
        for picture, label in zip(pictures, labels):
            if int(label) not in seen:
                seen.add(int(label))
                samples.append((f"digit-{int(label)}.png", picture, str(int(label)), "digit"))
            if len(seen) == DIGIT_SAMPLES:
                break
    if any(d != DIGITS for d in domains):
        from mvedge.data.photos import packaged_photos

        for i, photo in enumerate(packaged_photos()[:PHOTO_SAMPLES]):
            photo = photo.convert("RGB")
            photo.thumbnail((contract_vectors.PHOTO_MAX_SIDE * 2, contract_vectors.PHOTO_MAX_SIDE * 2))
            samples.append((f"photo-{i}.jpg", photo, None, "photo"))
    return samples


def _index_entry(path: Path, sidecar: Sidecar, runtime: str, layout: AppLayout) -> dict[str, Any]:
    spec = sidecar.input
    return {
        "file": path.name,
        "sidecar": sidecar_path(path).name,
        "runtime": runtime,
        "target": sidecar.target,
        "precision": sidecar.precision,
        "model": sidecar.model,
        "source": sidecar.source,
        "sha256": sha256_of(path),
        "size_bytes": size_of(path),
        "input": {"name": spec.name, "shape": spec.shape, "layout": spec.layout, "dtype": spec.dtype, "quantization": spec.quantization},
        "image_input": contract_vectors.image_input(sidecar.to_dict()),
        "num_classes": sidecar.config.get("num_classes"),
        "digit_canvas": sidecar.domain == DIGITS,
    }


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)


def _copy(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, destination)
    else:
        shutil.copy2(source, destination)


def _merged(existing: Path, key: str, new_items: list[dict[str, Any]], keep) -> list[dict[str, Any]]:
    """Entries of an existing index/contract that are not replaced by new ones and still hold."""
    if not existing.is_file():
        return list(new_items)
    try:
        old = json.loads(existing.read_text()).get(key, [])
    except (OSError, json.JSONDecodeError, AttributeError):
        old = []
    replaced = {item["file"] for item in new_items}
    return [item for item in old if isinstance(item, dict) and item.get("file") not in replaced and keep(item)] + list(new_items)


def bundle(
    app: str,
    artifacts: list[str | Path],
    app_dir: str | Path,
    force: bool = False,
    contract_images: int = contract_vectors.DEFAULT_IMAGE_COUNT,
    progress: Progress | None = None,
    arch: str = "host",
) -> BundleResult:
    """Copy `artifacts` (+ sidecars) into the app at `app_dir`, add samples, update index.json and
    write contract vectors. Raises BadInput for bad input, before any write.
    Models bundled earlier stay in index.json; their contract entries stay when they used the same
    contract images (contract.json has one image set). `arch` "arm64": the expected outputs come
    from the artifacts' runtimes on emulated ARM64 kernels, as a phone's CPU computes them."""
    layout = get_layout(app)
    root = check_app_dir(app, app_dir)
    checked = check_artifacts(layout, artifacts)
    if arch == "arm64":
        refused = [p.name for p, s, _ in checked if s.target not in ARM64_BUNDLE_TARGETS]
        if refused:
            raise BadInput(f"--arch arm64 computes expected outputs of .tflite, .pte and .onnx artifacts; {refused[0]} has no runtime "
                           "on ARM64 here (Core ML needs an Apple device): bundle it in a separate run without --arch arm64")
    models_dir, samples_dir, contract_dir = root / layout.models, root / layout.samples, root / layout.contract
    if not force:
        clashes = [str(models_dir / p.name) for p, _, _ in checked if (models_dir / p.name).exists() or sidecar_path(models_dir / p.name).exists()]
        if clashes:
            raise BadInput(f"{clashes[0]} already exists; pass --force to replace it")
    if any(s.domain != checked[0][1].domain for _, s, _ in checked):
        raise BadInput("bundle the digits model and natural-image models separately: their contract images differ")
    progress = progress or Progress("bundle")
    images = contract_vectors.contract_images(checked[0][1].to_dict(), contract_images)
    with staging_folder(root, ".mvedge-bundle-") as staging:
        result = BundleResult(app, root, contract_dir=contract_dir, contract_images=len(images))
        entries, index_entries = [], []
        for path, sidecar, runtime in checked:
            with progress.stage(f"copying {path.name}"):
                _copy(path, staging / "models" / path.name)
                _copy(sidecar_path(path), sidecar_path(staging / "models" / path.name))
            with progress.stage(f"contract vectors for {path.name} ({len(images)} images, {runtime})"):
                runner = open_runner(staging / "models" / path.name, arch=arch) if arch != "host" else None
                entry, files = contract_vectors.build_entry(staging / "models" / path.name, sidecar.to_dict(), runtime, images, runner)
            for relative, data in files.items():
                _write(staging / "contract" / relative, data)
            entries.append(entry)
            index_entries.append(_index_entry(staging / "models" / path.name, sidecar, runtime, layout))
            result.models.append({"file": path.name, "runtime": runtime, "size_bytes": index_entries[-1]["size_bytes"]})
        for picture in images:
            _write(staging / "contract" / "images" / f"{picture.name}.png", contract_vectors.png_bytes(picture.image))

        def model_still_there(item: dict[str, Any]) -> bool:
            return (models_dir / str(item.get("file"))).exists() and sidecar_path(models_dir / str(item.get("file"))).exists()

        merged = _merged(models_dir / INDEX_NAME, "models", index_entries, model_still_there)
        # samples for every model the app will hold: the new ones and those bundled before
        kept_domains = [read_sidecar(models_dir / str(m["file"])).domain for m in merged if m["file"] not in {p.name for p, _, _ in checked}]
        samples = []
        for name, picture, label, kind in _sample_pictures([s.domain for _, s, _ in checked] + kept_domains):
            target = staging / "samples" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            picture.save(target, format="PNG" if name.endswith(".png") else "JPEG", quality=90)
            samples.append({"file": f"{name}", "label": label, "kind": kind})
        result.samples = [s["file"] for s in samples]
        index = {
            "schema": INDEX_SCHEMA,
            "mvedge_version": mvedge.__version__,
            "app": app,
            "models": merged,
            "samples": samples,
        }
        document = contract_vectors.contract_document(app, images, entries)
        document["artifacts"] = _merged(contract_dir / CONTRACT_NAME, "artifacts", entries, lambda item: model_still_there(item) and _contract_entry_holds(contract_dir, item, images))
        uncovered = sorted({m["file"] for m in merged} - {a["file"] for a in document["artifacts"]})
        if uncovered:
            progress.note(f"note: {', '.join(uncovered)} bundled earlier with other contract images; re-bundle to cover them in contract.json")
        _write(staging / "index.json", strict_json.dumps(index, indent=1))
        _write(staging / "contract.json", strict_json.dumps(document, indent=1))
        with progress.stage("moving into place"):
            for path, _, _ in checked:
                move_into_place(staging / "models" / path.name, models_dir / path.name)
                move_into_place(sidecar_path(staging / "models" / path.name), sidecar_path(models_dir / path.name))
            if samples_dir.exists():
                shutil.rmtree(samples_dir)
            move_into_place(staging / "samples", samples_dir)
            for picture in images:
                move_into_place(staging / "contract" / "images" / f"{picture.name}.png", contract_dir / "images" / f"{picture.name}.png")
            for entry in entries:
                folder = contract_vectors.stem(entry["file"])
                move_into_place(staging / "contract" / folder, contract_dir / folder)
            move_into_place(staging / "contract.json", contract_dir / CONTRACT_NAME)
            move_into_place(staging / "index.json", models_dir / INDEX_NAME)
        return result


def _contract_entry_holds(contract_dir: Path, item: dict[str, Any], images: list[contract_vectors.ContractImage]) -> bool:
    """An older contract entry is kept only when it used the same images (the images folder is shared)."""
    names = {p.name for p in images}
    return {case.get("image") for case in item.get("cases", [])} <= names and (contract_dir / contract_vectors.stem(str(item.get("file")))).is_dir()
