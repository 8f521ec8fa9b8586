"""Checkpoints by Hugging Face name, against a stand-in Hub on 127.0.0.1: download into the
cache, revisions, the variant from config.json, offline use from the cache, and one-line errors
for a missing repository, revision or file and for no network."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import types
from pathlib import Path

import pytest

import mvedge
from mvedge.errors import BadInput, Failed, NotFound
from mvedge.model import hub
from mvedge.model.bundle import load_bundle
from mvedge.model.configs import config
from tests.commands.cli import error_line
from tests.hub_server import (
    COMMIT,
    OTHER_COMMIT,
    REPO,
    TINY,
    FakeRepo,
    point_hub_at,
    prefill_cache,
    same_outputs,
    serving,
    tiny_model,
    tiny_repo,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def repo() -> FakeRepo:
    return tiny_repo()


@pytest.fixture
def online(repo: FakeRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The fake Hub serving the tiny repository (plus one with pickled weights only and one with
    no weights), huggingface_hub pointed at it with an empty cache under tmp_path."""
    pickled = FakeRepo({COMMIT: {"config.json": b"{}", "mambavision_tiny_1k.pth.tar": b"not read"}})
    empty = FakeRepo({COMMIT: {"README.md": b"# no weights"}})
    repos = {REPO: repo, "nvidia/MambaVision-Pickled-1K": pickled, "nvidia/MambaVision-Empty-1K": empty}
    with serving(repos) as server:
        point_hub_at(monkeypatch, server.url, tmp_path / "hf")
        yield server


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("nvidia/MambaVision-T-1K", ("nvidia/MambaVision-T-1K", None)),
        ("nvidia/MambaVision-L3-512-21K@main", ("nvidia/MambaVision-L3-512-21K", "main")),
        ("nvidia/MambaVision-B-1K@" + COMMIT, ("nvidia/MambaVision-B-1K", COMMIT)),
        ("nvidia/mambavision-t-1k@refs/pr/1", ("nvidia/mambavision-t-1k", "refs/pr/1")),
    ],
)
def test_repository_ids_and_revisions_are_read(text: str, expected: tuple) -> None:
    assert hub.is_repo_id(text)
    assert hub.parse_repo_id(text) == expected


@pytest.mark.parametrize(
    "text",
    ["model.safetensors", "nvidia/other-model", "someone/MambaVision-T-1K", "nvidia/MambaVision-", "/nvidia/MambaVision-T-1K",
     "nvidia/MambaVision-T-1K.pth.tar", "nvidia/MambaVision-T-1K.safetensors"],
)
def test_other_names_are_files(text: str) -> None:
    assert not hub.is_repo_id(text)


def test_an_existing_local_path_stays_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "nvidia").mkdir()
    (tmp_path / "nvidia" / "MambaVision-T-1K").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    assert not hub.is_repo_id("nvidia/MambaVision-T-1K")


def test_a_repository_downloads_into_the_cache_and_loads(online, tmp_path: Path) -> None:
    model = mvedge.load_checkpoint(REPO)
    assert same_outputs(model, tiny_model())
    assert model.config["num_heads"] == TINY["num_heads"] and model.config["window_size"] == TINY["window_size"]  # from config.json
    cached = tmp_path / "hf" / "hub" / "models--nvidia--MambaVision-Test-1K" / "snapshots" / COMMIT
    assert (cached / "model.safetensors").is_file() and (cached / "config.json").is_file()
    gets = [p for m, p in online.requests if m == "GET" and p.endswith("model.safetensors")]
    assert len(gets) == 1
    mvedge.load_checkpoint(REPO)  # again: from the cache, no second download
    assert len([p for m, p in online.requests if m == "GET" and p.endswith("model.safetensors")]) == 1


def test_the_bundle_names_the_repository_at_its_commit(online) -> None:
    bundle = load_bundle(REPO)
    assert bundle.source == f"{REPO}@{COMMIT}" and not bundle.random_weights
    assert bundle.name == "custom" and bundle.labels is None


def test_a_downloaded_checkpoint_is_hashed_and_named_like_a_local_file(online, tmp_path: Path) -> None:
    """The sidecar's source_sha256 and the artifact name come from the cached file, as for --weights FILE."""
    from converters.pipeline import _source_sha256, artifact_name
    from mvedge.artifact import sha256_of

    bundle = load_bundle(REPO)
    digest = sha256_of(bundle.source_file)
    assert _source_sha256(bundle) == digest
    assert artifact_name(bundle, "onnx", "fp32", ".onnx").startswith(f"mambavision-custom-{digest[:8]}-")


def test_a_revision_is_fetched_at_its_commit(online) -> None:
    """Tag v0 names a commit without config.json: the architecture then comes from the weights
    (num_heads and window_size must be given, as for a custom file)."""
    with pytest.raises(BadInput, match="pass num_heads and window_size"):
        mvedge.load_checkpoint(f"{REPO}@v0")
    model = mvedge.load_checkpoint(f"{REPO}@v0", num_heads=TINY["num_heads"], window_size=TINY["window_size"])
    assert same_outputs(model, tiny_model())
    assert any(p.startswith(f"/{REPO}/resolve/v0/") for _, p in online.requests)
    by_commit = mvedge.load_checkpoint(f"{REPO}@{OTHER_COMMIT}", num_heads=TINY["num_heads"], window_size=TINY["window_size"])
    assert same_outputs(by_commit, model)


def test_a_missing_repository_is_one_line_naming_the_official_ones(online, capsys) -> None:
    line = error_line(capsys, ["build", "--weights", "nvidia/MambaVision-Nope-1K"])
    assert "repository 'nvidia/MambaVision-Nope-1K' not found" in line and "nvidia/MambaVision-T-1K" in line
    with pytest.raises(NotFound):
        mvedge.load_checkpoint("nvidia/MambaVision-Nope-1K")


def test_a_missing_revision_is_one_line(online, capsys) -> None:
    line = error_line(capsys, ["build", "--weights", f"{REPO}@nope"])
    assert "revision 'nope' of nvidia/MambaVision-Test-1K not found" in line


def test_pickled_weights_are_never_downloaded(online) -> None:
    with pytest.raises(BadInput, match=r"only pickled weights \(mambavision_tiny_1k.pth.tar\).*convert it to .safetensors") as info:
        mvedge.load_checkpoint("nvidia/MambaVision-Pickled-1K")
    assert "\n" not in str(info.value)
    assert not any(p.endswith(".pth.tar") and m == "GET" and "/resolve/" in p for m, p in online.requests)


def test_a_repository_without_weights_is_one_line(online, capsys) -> None:
    line = error_line(capsys, ["build", "--weights", "nvidia/MambaVision-Empty-1K"])
    assert "has no model.safetensors (it has README.md)" in line


def test_no_network_is_a_failure_naming_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """Nothing listens at HF_ENDPOINT and the cache is empty: exit 1 with one line (huggingface_hub's
    retries are let through without their waits)."""
    point_hub_at(monkeypatch, f"http://127.0.0.1:{free_port()}", tmp_path / "hf")
    import huggingface_hub.utils._http as http

    waits: list[float] = []
    monkeypatch.setattr(http, "time", types.SimpleNamespace(sleep=waits.append))
    with pytest.raises(Failed, match="could not download model.safetensors of nvidia/MambaVision-Test-1K") as info:
        mvedge.load_checkpoint(REPO)
    assert "\n" not in str(info.value) and str(tmp_path / "hf" / "hub") in str(info.value)
    assert waits  # it did retry
    from mvedge.cli import main

    assert main(["build", "--weights", REPO]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("mvedge: error: could not download")


def test_offline_loads_from_a_prefilled_cache(repo: FakeRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HF_HUB_OFFLINE with the files in the cache: no request at all (nothing listens anyway)."""
    cache = point_hub_at(monkeypatch, f"http://127.0.0.1:{free_port()}", tmp_path / "hf", offline=True)
    prefill_cache(cache, REPO, COMMIT, repo.files[COMMIT])
    model = mvedge.load_checkpoint(REPO)
    assert same_outputs(model, tiny_model())
    assert load_bundle(REPO).source == f"{REPO}@{COMMIT}"


def test_offline_without_the_files_says_how_to_get_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    point_hub_at(monkeypatch, f"http://127.0.0.1:{free_port()}", tmp_path / "hf", offline=True)
    line = error_line(capsys, ["build", "--weights", REPO])
    assert "not in the Hugging Face cache" in line and "HF_HUB_OFFLINE is set" in line


def test_the_variant_comes_from_config_json() -> None:
    """NVIDIA's config.json of MambaVision-T-1K (no layer-scale keys) gives T; window sizes tell
    L3-256-21K from L3-512-21K, which have the same weights; the repository's name chooses among
    variants of one architecture (B and B-21K); another architecture is custom."""
    t_1k = {
        "architectures": ["MambaVisionModelForImageClassification"], "model_type": "mambavision",
        "depths": [1, 3, 8, 4], "dim": 80, "drop_path_rate": 0.2, "in_dim": 32, "mlp_ratio": 4,
        "num_heads": [2, 4, 8, 16], "window_size": [8, 8, 14, 7], "torch_dtype": "float32",
    }
    assert hub.variant_from_config(t_1k, "nvidia/MambaVision-T-1K")[0] == "T"

    def as_hub(name: str) -> dict:
        cfg = config(name)
        keys = ("depths", "dim", "in_dim", "num_heads", "window_size", "mlp_ratio", "layer_scale", "layer_scale_conv")
        return {"model_type": "mambavision", "drop_path_rate": cfg["dropout"], **{k: cfg[k] for k in keys}}

    assert hub.variant_from_config(as_hub("L3-512-21K"), "nvidia/MambaVision-L3-512-21K")[0] == "L3-512-21K"
    assert hub.variant_from_config(as_hub("L3-256-21K"), "nvidia/MambaVision-L3-256-21K")[0] == "L3-256-21K"
    assert hub.variant_from_config(as_hub("B"), "nvidia/MambaVision-B-21K")[0] == "B-21K"
    assert hub.variant_from_config(as_hub("B"), "nvidia/MambaVision-B-1K")[0] == "B"
    name, options = hub.variant_from_config({**t_1k, "dim": 96}, "nvidia/MambaVision-T-1K")
    assert name is None and options["dim"] == 96 and options["num_heads"] == [2, 4, 8, 16]
    assert "layer_scale" not in options  # absent from config.json: the weights say whether there is one


def test_the_command_line_reads_the_environment(repo: FakeRepo, tmp_path: Path) -> None:
    """`mvedge build --weights nvidia/...` in a fresh process with HF_HOME and HF_HUB_OFFLINE=1 set:
    the model comes from that cache, and the Hub at HF_ENDPOINT is not asked."""
    home = tmp_path / "hf"
    prefill_cache(home / "hub", REPO, COMMIT, repo.files[COMMIT])
    env = {**os.environ, "HF_HOME": str(home), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), "NO_PROXY": "127.0.0.1"}
    env.pop("HF_HUB_CACHE", None)
    with serving({REPO: repo}) as server:
        run = subprocess.run(
            [sys.executable, "-m", "mvedge.cli", "build", "--weights", REPO], env={**env, "HF_ENDPOINT": server.url},
            capture_output=True, text=True, timeout=300,
        )
    assert run.returncode == 0, run.stderr
    assert "variant      custom" in run.stdout and "output       (1, 10)" in run.stdout
    assert server.requests == []
