"""Official checkpoints by their Hugging Face name (`nvidia/MambaVision-T-1K[@revision]`): the
repository's model.safetensors and config.json, fetched with huggingface_hub into its usual cache
(HF_HOME, HF_HUB_CACHE, HF_ENDPOINT and HF_HUB_OFFLINE apply), and the build options that
config.json describes. Pickled weights are never downloaded."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi, constants, hf_hub_download
from huggingface_hub.errors import (
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from mvedge.errors import BadInput, Failed, NotFound
from mvedge.model.configs import VARIANTS, canonical_variant, config

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
PICKLE_SUFFIXES = (".bin", ".pth", ".pt", ".pth.tar", ".ckpt", ".pkl")

_REPO_ID = re.compile(r"(?P<repo>nvidia/MambaVision-[A-Za-z0-9][A-Za-z0-9._-]*)(?:@(?P<revision>[A-Za-z0-9][A-Za-z0-9._/-]*))?", re.IGNORECASE)

# config.json key -> build option, for the keys NVIDIA's MambaVisionConfig writes
_CONFIG_KEYS = {
    "dim": "dim",
    "in_dim": "in_dim",
    "depths": "depths",
    "num_heads": "num_heads",
    "window_size": "window_size",
    "mlp_ratio": "mlp_ratio",
    "layer_scale": "layer_scale",
    "layer_scale_conv": "layer_scale_conv",
}
_MATCHED = ("dim", "in_dim", "depths", "num_heads", "window_size", "mlp_ratio", "layer_scale", "layer_scale_conv")


def repository_names() -> list[str]:
    """The official repositories, one per variant (`nvidia/MambaVision-T-1K`, ..., `-L3-512-21K`)."""
    return [f"nvidia/MambaVision-{name if name.endswith('21K') else name + '-1K'}" for name in VARIANTS]


def is_repo_id(weights: str | os.PathLike) -> bool:
    """Whether --weights names a Hugging Face repository (`nvidia/MambaVision-*`, optionally
    `@revision`) rather than a file; an existing local path, or a name ending like a checkpoint
    file, stays a file."""
    text = str(weights)
    if text.lower().endswith(PICKLE_SUFFIXES + (".safetensors", ".tar")):  # a file name, mistyped or not there
        return False
    return _REPO_ID.fullmatch(text) is not None and not Path(text).exists()


def parse_repo_id(weights: str) -> tuple[str, str | None]:
    """(repository id, revision or None) of `nvidia/MambaVision-T-1K[@revision]`."""
    found = _REPO_ID.fullmatch(str(weights))
    if found is None:
        raise BadInput(f"{weights!r} is not a Hugging Face repository id of the form nvidia/MambaVision-T-1K[@revision]")
    return found.group("repo"), found.group("revision")


@dataclass
class HubCheckpoint:
    """A repository's weights file in the local cache, with its config.json (None when absent)."""

    repo_id: str
    revision: str | None
    commit: str
    weights: Path
    config: dict[str, Any] | None

    @property
    def label(self) -> str:
        """How artifacts name their source: the repository at the exact commit the weights came from."""
        return f"{self.repo_id}@{self.commit}"


def download(weights: str) -> HubCheckpoint:
    """model.safetensors (and config.json when the repository has one) of `weights`, from the cache
    or the Hub; BadInput/NotFound for a missing repository, revision or file, Failed when the Hub
    cannot be reached and the cache lacks the files."""
    repo_id, revision = parse_repo_id(weights)
    weights_path = _fetch(repo_id, WEIGHTS_FILE, revision, optional=False)  # first: its errors say what is wrong
    assert weights_path is not None
    config_path = _fetch(repo_id, CONFIG_FILE, Path(weights_path).parent.name, optional=True)  # the same commit
    hub_config = _read_config(config_path, repo_id) if config_path else None
    return HubCheckpoint(repo_id, revision, Path(weights_path).parent.name, Path(weights_path), hub_config)


def _fetch(repo_id: str, filename: str, revision: str | None, optional: bool) -> str | None:
    """One file of the repository through hf_hub_download; None for an optional file that is absent."""
    where = f"{repo_id}" + (f"@{revision}" if revision else "")
    try:
        return hf_hub_download(repo_id, filename, revision=revision)
    except RepositoryNotFoundError as exc:  # also gated repositories without access
        raise NotFound(
            f"Hugging Face repository {repo_id!r} not found (or private/gated without a token); "
            f"the official ones are {', '.join(repository_names())}"
        ) from exc
    except RevisionNotFoundError as exc:
        raise NotFound(f"revision {revision!r} of {repo_id} not found; pass a branch, tag or commit the repository has") from exc
    except RemoteEntryNotFoundError as exc:
        if optional:
            return None
        raise _missing_weights(repo_id, revision, where) from exc
    except LocalEntryNotFoundError as exc:
        if optional:
            return None
        if constants.is_offline_mode():
            raise NotFound(
                f"{where}: {filename} is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and HF_HUB_OFFLINE is set; "
                "run once without HF_HUB_OFFLINE to download it"
            ) from exc
        raise Failed(
            f"could not download {filename} of {where} from {constants.ENDPOINT} and it is not in the cache "
            f"({constants.HF_HUB_CACHE}); check the network connection (or HF_ENDPOINT), or pass a local file with --weights"
        ) from exc
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise Failed(f"the Hugging Face Hub answered HTTP {status} for {filename} of {where}; try again later or pass a local file") from exc


def _missing_weights(repo_id: str, revision: str | None, where: str) -> BadInput:
    """The error for a repository without model.safetensors: pickled weights are named with the
    way to use them, anything else is a plain 'not found'."""
    try:
        files = HfApi(endpoint=constants.ENDPOINT).list_repo_files(repo_id, revision=revision)
    except (HfHubHTTPError, OSError):
        files = []
    pickles = [f for f in files if f.lower().endswith(PICKLE_SUFFIXES)]
    if pickles:
        return BadInput(
            f"{where} has no {WEIGHTS_FILE}, only pickled weights ({', '.join(pickles[:3])}), which mvedge does not "
            "download; fetch the file yourself and pass its path with --weights (read with torch.load(weights_only=True)), "
            "or convert it to .safetensors"
        )
    shown = f" (it has {', '.join(files[:6])})" if files else ""
    return NotFound(f"{where} has no {WEIGHTS_FILE}{shown}; pass a repository with safetensors weights or a local file")


def _read_config(path: str, repo_id: str) -> dict[str, Any]:
    """The repository's config.json as a dict; BadInput when it is not a JSON object."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(f"{CONFIG_FILE} of {repo_id} is not readable JSON ({exc}); delete it from the cache and try again") from exc
    if not isinstance(data, dict):
        raise BadInput(f"{CONFIG_FILE} of {repo_id} is not a JSON object")
    return data


def variant_from_config(hub_config: dict[str, Any], repo_id: str = "") -> tuple[str | None, dict[str, Any]]:
    """The official variant a repository's config.json describes (the one its name says when the
    architecture fits several, as B and B-21K do), else None, with the build options config.json
    gives (only those it has: for a custom model the weights tell the rest)."""
    options = {option: hub_config[key] for key, option in _CONFIG_KEYS.items() if key in hub_config}
    if "drop_path_rate" in hub_config:
        options["dropout"] = hub_config["drop_path_rate"]
    compared = {"layer_scale": None, "layer_scale_conv": None, **options}  # absent: None, as NVIDIA's code defaults
    matches = [name for name in VARIANTS if all(_same(compared.get(k), config(name)[k]) for k in _MATCHED)]
    named = _variant_in_name(repo_id)
    if named in matches:
        return named, options
    return (matches[0] if matches else None), options


def _same(value: Any, expected: Any) -> bool:
    """Config values compared as JSON gives them (lists for tuples, 4 for 4.0)."""
    if isinstance(expected, (list, tuple)):
        return isinstance(value, (list, tuple)) and list(value) == list(expected)
    return value == expected


def _variant_in_name(repo_id: str) -> str | None:
    """The variant a repository's name spells (`nvidia/MambaVision-B-21K` -> B-21K), if any."""
    try:
        return canonical_variant(repo_id.split("/")[-1]) if repo_id else None
    except BadInput:
        return None
