"""`mvedge bundle`: copy artifacts and their sidecars into a demo app, with sample pictures, an
index.json the app lists its models from, and contract vectors for the app's own tests.

Everything is built in a staging folder inside the app folder first (the artifacts are run there to
compute the expected outputs); only when all of it succeeded are the files renamed into place, so
a refused or failed bundle leaves the app as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mvedge
from mvedge.apps import contract as contract_vectors
from mvedge.apps.layout import CONTRACT_NAME, INDEX_NAME, AppLayout, check_app_dir, get_layout
from mvedge.model.bundle import DIGITS, sidecar_domain
from mvedge.progress import Progress

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


def sidecar_of(artifact: Path) -> Path:
    """'<artifact>.json' next to the artifact (as mvedge convert writes it)."""
    return artifact.with_name(artifact.name + ".json")


def _read_sidecar(artifact: Path) -> dict[str, Any]:
    path = sidecar_of(artifact)
    if not path.is_file():
        raise ValueError(f"{artifact.name} has no sidecar ({path.name}); bundle artifacts written by mvedge convert, with their .json next to them")
    try:
        sidecar = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not readable JSON ({exc}); re-run mvedge convert for this artifact") from exc
    if not isinstance(sidecar, dict) or "input" not in sidecar or "preprocessing" not in sidecar:
        raise ValueError(f"{path} is not an mvedge sidecar (no input/preprocessing section); re-run mvedge convert")
    return sidecar


def check_artifacts(layout: AppLayout, artifacts: list[str | Path]) -> list[tuple[Path, dict[str, Any], str]]:
    """(path, sidecar, app runtime) per artifact, or ValueError/FileNotFoundError naming the first problem."""
    if not artifacts:
        raise ValueError("no artifact given; pass one or more files written by mvedge convert")
    checked, names = [], set()
    for item in artifacts:
        path = Path(item)
        if not path.exists():
            raise FileNotFoundError(f"artifact {str(path)!r} does not exist")
        runtime = layout.runtime_for(path.suffix)
        if runtime is None:
            raise ValueError(f"the {layout.app} app cannot run {path.name} ({path.suffix or 'no suffix'}); it runs {', '.join(layout.suffixes)} files")
        if path.name in names:
            raise ValueError(f"{path.name} is given twice")
        names.add(path.name)
        sidecar = _read_sidecar(path)
        if sidecar.get("precision") == "coreml-fp16" or (sidecar.get("conversion") or {}).get("backend") == "coreml":
            raise ValueError(f"{path.name} is a Core ML-delegated .pte: it runs only on Apple devices, not in the Android app; bundle an XNNPACK .pte")
        if (sidecar.get("config") or {}).get("num_classes") is None:
            raise ValueError(f"{path.name} outputs pooled features (no classifier head); the demo apps show class scores")
        contract_vectors.input_spec(sidecar)
        contract_vectors.preprocessing_from_sidecar(sidecar)
        checked.append((path, sidecar, runtime))
    return checked


def _sample_pictures(sidecars: list[dict[str, Any]]) -> list[tuple[str, Any, str | None, str]]:
    """(file name, picture, label, kind) for the app's sample picker: one held-out digit per class
    when a digits model is bundled, a few packaged photos when a natural-image model is."""
    samples = []
    if any(sidecar_domain(s) == DIGITS for s in sidecars):
        from mvedge.data.digits import digits_split

        pictures, labels = digits_split("test")
        seen: set[int] = set()
        for picture, label in zip(pictures, labels):
            if int(label) not in seen:
                seen.add(int(label))
                samples.append((f"digit-{int(label)}.png", picture, str(int(label)), "digit"))
            if len(seen) == DIGIT_SAMPLES:
                break
    if any(sidecar_domain(s) != DIGITS for s in sidecars):
        from mvedge.data.photos import packaged_photos

        for i, photo in enumerate(packaged_photos()[:PHOTO_SAMPLES]):
            photo = photo.convert("RGB")
            photo.thumbnail((contract_vectors.PHOTO_MAX_SIDE * 2, contract_vectors.PHOTO_MAX_SIDE * 2))
            samples.append((f"photo-{i}.jpg", photo, None, "photo"))
    return samples


def _index_entry(path: Path, sidecar: dict[str, Any], runtime: str, layout: AppLayout) -> dict[str, Any]:
    spec = sidecar["input"]
    return {
        "file": path.name,
        "sidecar": path.name + ".json",
        "runtime": runtime,
        "target": sidecar.get("target"),
        "precision": sidecar.get("precision"),
        "model": sidecar.get("model"),
        "source": sidecar.get("source"),
        "sha256": contract_vectors.artifact_sha256(path),
        "size_bytes": _size(path),
        "input": {k: spec.get(k) for k in ("name", "shape", "layout", "dtype", "quantization")},
        "image_input": contract_vectors.image_input(sidecar),
        "num_classes": (sidecar.get("config") or {}).get("num_classes"),
        "digit_canvas": sidecar_domain(sidecar) == DIGITS,
    }


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


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


def _replace(source: Path, destination: Path) -> None:
    """Rename into place, removing a folder (an .mlpackage) that is there."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.is_dir() and not destination.is_symlink():
        shutil.rmtree(destination)
    os.replace(source, destination)


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
) -> BundleResult:
    """Copy `artifacts` (+ sidecars) into the app at `app_dir`, add samples, update index.json and
    write contract vectors. Raises ValueError / FileNotFoundError for bad input, before any write.
    Models bundled earlier stay in index.json; their contract entries stay when they used the same
    contract images (contract.json has one image set)."""
    layout = get_layout(app)
    root = check_app_dir(app, app_dir)
    checked = check_artifacts(layout, artifacts)
    models_dir, samples_dir, contract_dir = root / layout.models, root / layout.samples, root / layout.contract
    if not force:
        clashes = [str(models_dir / p.name) for p, _, _ in checked if (models_dir / p.name).exists() or (models_dir / (p.name + ".json")).exists()]
        if clashes:
            raise ValueError(f"{clashes[0]} already exists; pass --force to replace it")
    if any(sidecar_domain(s) != sidecar_domain(checked[0][1]) for _, s, _ in checked):
        raise ValueError("bundle the digits model and natural-image models separately: their contract images differ")
    progress = progress or Progress("bundle")
    images = contract_vectors.contract_images(checked[0][1], contract_images)
    staging = Path(tempfile.mkdtemp(prefix=".mvedge-bundle-", dir=root))
    try:
        result = BundleResult(app, root, contract_dir=contract_dir, contract_images=len(images))
        entries, index_entries = [], []
        for path, sidecar, runtime in checked:
            with progress.stage(f"copying {path.name}"):
                _copy(path, staging / "models" / path.name)
                _copy(sidecar_of(path), staging / "models" / (path.name + ".json"))
            with progress.stage(f"contract vectors for {path.name} ({len(images)} images, {runtime})"):
                entry, files = contract_vectors.build_entry(staging / "models" / path.name, sidecar, runtime, images)
            for relative, data in files.items():
                _write(staging / "contract" / relative, data)
            entries.append(entry)
            index_entries.append(_index_entry(staging / "models" / path.name, sidecar, runtime, layout))
            result.models.append({"file": path.name, "runtime": runtime, "size_bytes": index_entries[-1]["size_bytes"]})
        for picture in images:
            _write(staging / "contract" / "images" / f"{picture.name}.png", contract_vectors.png_bytes(picture.image))

        def model_still_there(item: dict[str, Any]) -> bool:
            return (models_dir / str(item.get("file"))).exists() and (models_dir / (str(item.get("file")) + ".json")).exists()

        merged = _merged(models_dir / INDEX_NAME, "models", index_entries, model_still_there)
        # samples for every model the app will hold: the new ones and those bundled before
        kept_sidecars = [_read_sidecar(models_dir / str(m["file"])) for m in merged if m["file"] not in {p.name for p, _, _ in checked}]
        samples = []
        for name, picture, label, kind in _sample_pictures([s for _, s, _ in checked] + kept_sidecars):
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
        _write(staging / "index.json", json.dumps(index, indent=1))
        _write(staging / "contract.json", json.dumps(document, indent=1))
        with progress.stage("moving into place"):
            for path, _, _ in checked:
                _replace(staging / "models" / path.name, models_dir / path.name)
                _replace(staging / "models" / (path.name + ".json"), models_dir / (path.name + ".json"))
            if samples_dir.exists():
                shutil.rmtree(samples_dir)
            _replace(staging / "samples", samples_dir)
            for picture in images:
                _replace(staging / "contract" / "images" / f"{picture.name}.png", contract_dir / "images" / f"{picture.name}.png")
            for entry in entries:
                folder = contract_vectors.stem(entry["file"])
                _replace(staging / "contract" / folder, contract_dir / folder)
            _replace(staging / "contract.json", contract_dir / CONTRACT_NAME)
            _replace(staging / "index.json", models_dir / INDEX_NAME)
        return result
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _contract_entry_holds(contract_dir: Path, item: dict[str, Any], images: list[contract_vectors.ContractImage]) -> bool:
    """An older contract entry is kept only when it used the same images (the images folder is shared)."""
    names = {p.name for p in images}
    return {case.get("image") for case in item.get("cases", [])} <= names and (contract_dir / contract_vectors.stem(str(item.get("file")))).is_dir()
