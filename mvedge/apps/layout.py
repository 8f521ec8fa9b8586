"""Where each demo app expects its models, samples and contract vectors.

The paths are part of the contract between `mvedge bundle` and the apps (documented in both
READMEs): Android reads `app/src/main/assets/models/`, iOS compiles `MVEdgeDemo/Models/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mvedge
from mvedge.artifact import BY_SUFFIX
from mvedge.errors import BadInput

INDEX_NAME = "index.json"
CONTRACT_NAME = "contract.json"


@dataclass(frozen=True)
class AppLayout:
    """One app's file layout, relative to its project folder."""

    app: str
    marker: str  # a file every checkout of the app has: tells the folder is the app
    models: str
    samples: str
    contract: str
    suffixes: tuple[str, ...]  # artifact file types the app can run
    folder_name: str

    def runtime_for(self, suffix: str) -> str | None:
        """The runtime that runs artifacts with this suffix in the app, or None when the app has none."""
        return BY_SUFFIX[suffix].runtime if suffix in self.suffixes else None


LAYOUTS: dict[str, AppLayout] = {
    "android": AppLayout(
        app="android",
        marker="settings.gradle.kts",
        models="app/src/main/assets/models",
        samples="app/src/main/assets/samples",
        contract="app/src/androidTest/assets/contract",
        suffixes=(".tflite", ".pte"),
        folder_name="android_demo",
    ),
    "ios": AppLayout(
        app="ios",
        marker="project.yml",
        models="MVEdgeDemo/Models",
        samples="MVEdgeDemo/Samples",
        contract="MVEdgeDemoTests/Contract",
        suffixes=(".mlpackage",),
        folder_name="ios_demo",
    ),
}


def get_layout(app: str) -> AppLayout:
    """The layout of 'android' or 'ios' (any case); ValueError naming the choices otherwise."""
    try:
        return LAYOUTS[app.lower()]
    except KeyError:
        raise BadInput(f"unknown app {app!r}; choose one of {', '.join(LAYOUTS)}") from None


def default_app_dir(app: str) -> Path:
    """The app's folder in this checkout (next to the mvedge package), else ./<app>_demo."""
    layout = get_layout(app)
    in_checkout = Path(mvedge.__file__).resolve().parents[1] / layout.folder_name
    if (in_checkout / layout.marker).is_file():
        return in_checkout
    return Path.cwd() / layout.folder_name


def check_app_dir(app: str, folder: str | Path) -> Path:
    """The app folder, checked to be the app (its marker file exists); ValueError otherwise."""
    layout = get_layout(app)
    folder = Path(folder)
    if not (folder / layout.marker).is_file():
        raise BadInput(
            f"{str(folder)!r} is not the {app} demo app (no {layout.marker}); pass --app-dir pointing at {layout.folder_name}/"
        )
    return folder
