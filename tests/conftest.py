"""Shared test fixtures: paths of the committed golden files, seeded checkpoints of the test
configs (mvedge.model.configs.TEST_CONFIGS), the embedded digits model, real digits as an image
folder, and one session cache of converted artifacts."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from mvedge.model.bundle import ModelBundle, load_bundle
from mvedge.model.checkpoints import save_checkpoint
from mvedge.model.configs import test_config
from mvedge.progress import Progress
from mvedge.verify.reference import seeded_model

pytest_plugins = ["tests.host_artifacts"]

FIXTURES = Path(__file__).parent / "fixtures"
GOLDENS = FIXTURES / "goldens"


@pytest.fixture(scope="session")
def golden_index() -> dict:
    """index.json of the official-package goldens (scripts/make_goldens.py)."""
    return json.loads((GOLDENS / "index.json").read_text())


@pytest.fixture(scope="session")
def official_keys() -> dict:
    """State-dict keys, shapes and configs of every official variant (scripts/make_official_keys.py)."""
    return json.loads((GOLDENS / "official_keys.json").read_text())["variants"]


@pytest.fixture(scope="session")
def small_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The "small" test config (every block type) with non-trivial BN statistics, as .safetensors with its config."""
    model = seeded_model(test_config("small"))
    path = tmp_path_factory.mktemp("ckpt") / "small.safetensors"
    save_checkpoint(model, path)
    return path


@pytest.fixture
def small_bundle(small_checkpoint: Path) -> ModelBundle:
    return load_bundle(str(small_checkpoint))


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The "tiny" test config, seeded, as .safetensors with its config (what `--weights` takes)."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.safetensors"
    save_checkpoint(seeded_model(test_config("tiny")), path)
    return path


@pytest.fixture(scope="session")
def digits() -> ModelBundle:
    """The embedded digits model (shared: tests that change it work on a copy)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_bundle()


def write_digits(root: Path, count: int, split: str = "train", by_class: bool = True) -> Path:
    """`count` real digits from a split as PNG files, in class subfolders named after the digit."""
    from mvedge.data.digits import digits_split

    pictures, labels = digits_split(split)
    step = max(1, len(pictures) // count)
    for index in range(0, step * count, step):
        folder = root / str(int(labels[index])) if by_class else root
        folder.mkdir(parents=True, exist_ok=True)
        pictures[index].save(folder / f"{index:04d}.png")
    return root


@pytest.fixture(scope="session")
def digits_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 training digits in class subfolders 0..9."""
    return write_digits(tmp_path_factory.mktemp("digits"), 64)


Converted = Callable[..., Path]


@pytest.fixture(scope="session")
def converted(digits: ModelBundle, tmp_path_factory: pytest.TempPathFactory) -> Converted:
    """A factory: converted(model, target, precision, **target_options) -> artifact path (sidecar
    next to it). `model` is a ModelBundle or "digits" (the embedded model). Each artifact is
    converted once per session, without the pipeline's drift check (tests/converters checks that);
    a target whose toolchain is not installed skips the test."""
    from converters.base import ConvertOptions, MissingExtra
    from converters.pipeline import convert

    root = tmp_path_factory.mktemp("converted")
    made: dict[tuple, Path | str] = {}
    bundles: list[ModelBundle] = []  # kept alive so their ids stay theirs

    def get(model: ModelBundle | str, target: str, precision: str, **target_options) -> Path:
        if isinstance(model, str) and model == "digits":
            model = digits
        if not isinstance(model, ModelBundle):
            raise ValueError(f"converted() takes a ModelBundle or 'digits', got {model!r}")
        if not any(b is model for b in bundles):
            bundles.append(model)
        key = (id(model), target, precision, tuple(sorted(target_options.items())))
        if key not in made:
            options = ConvertOptions(precision, model.image_size, extra=dict(target_options))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    made[key] = convert(model, target, precision, root / str(len(made)), options, verify=False, progress=Progress(quiet=True)).path
            except MissingExtra as error:
                made[key] = str(error)
        if isinstance(made[key], str):
            pytest.skip(made[key])
        return made[key]

    return get


@pytest.fixture(scope="session")
def onnx2tf_side_environment():
    """onnx2tf 2.x's side environment, made once in the user's cache folder ($XDG_CACHE_HOME or
    ~/.cache/mvedge/onnx2tf) as `--via onnx2tf` makes it, and reused by later runs; skips where the
    machine has no Python >= 3.12."""
    from converters import onnx2tf_env
    from converters.base import BadRequest
    from mvedge.progress import Progress

    try:
        onnx2tf_env.find_python()
    except BadRequest as exc:
        pytest.skip(str(exc))
    return onnx2tf_env.ensure_environment(Progress("onnx2tf environment"))


@pytest.fixture(scope="session")
def arm64_userland():
    """The emulated ARM64 userland of `--arch arm64`, prepared once per machine under the cache
    folder (about 35 s and 120 MB of downloads the first time, reused afterwards); skips where
    Debian's apt-get and dpkg-deb are not there to make it."""
    import shutil

    from mvedge.verify.arm64.userland import userland

    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        pytest.skip("--arch arm64 prepares its userland with Debian's apt-get and dpkg-deb, not found here")
    return userland(Progress("arm64"))
