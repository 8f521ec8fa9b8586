"""A stand-in for the Hugging Face Hub on 127.0.0.1, for tests: it answers the routes
huggingface_hub uses to download a file (HEAD and GET `/{repo}/resolve/{revision}/{file}`) and to
list a repository (`/api/models/{repo}/tree/{revision}`), with the headers and error codes the Hub
sends, for repositories held in memory. No test touches the internet."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote, urlsplit

import pytest
import torch
from safetensors.torch import save

from mvedge.model.configs import DEFAULTS, test_config
from mvedge.verify.reference import seeded_model

REPO = "nvidia/MambaVision-Test-1K"
COMMIT = "a" * 40
OTHER_COMMIT = "b" * 40

# the tiny test architecture at the default scan chunk (what a checkpoint loads with), so outputs compare exactly
TINY = test_config("tiny", scan_chunk_size=DEFAULTS["scan_chunk_size"])


def hub_config_json(cfg: dict) -> bytes:
    """config.json as NVIDIA's MambaVisionConfig writes it for an architecture."""
    return json.dumps({
        "architectures": ["MambaVisionModelForImageClassification"],
        "model_type": "mambavision",
        "depths": cfg["depths"], "dim": cfg["dim"], "in_dim": cfg["in_dim"], "num_heads": cfg["num_heads"],
        "window_size": cfg["window_size"], "mlp_ratio": 4, "drop_path_rate": 0.0, "torch_dtype": "float32",
    }, indent=2).encode()


def hub_safetensors(model: torch.nn.Module) -> bytes:
    """A model's weights as the Hub's MambaVision repositories hold them (keys prefixed 'model.')."""
    return save({f"model.{k}": v.contiguous() for k, v in model.state_dict().items()})


def tiny_model() -> torch.nn.Module:
    """The model the fake repository holds."""
    return seeded_model(TINY)


@dataclass
class FakeRepo:
    """Files per commit, and the branches and tags that name commits."""

    files: dict[str, dict[str, bytes]]
    refs: dict[str, str] = field(default_factory=lambda: {"main": COMMIT})


def tiny_repo() -> FakeRepo:
    """config.json and model.safetensors of the tiny test model at COMMIT (branch main), and a
    commit without config.json at OTHER_COMMIT (tag v0)."""
    weights = hub_safetensors(tiny_model())
    return FakeRepo(
        {COMMIT: {"config.json": hub_config_json(TINY), "model.safetensors": weights}, OTHER_COMMIT: {"model.safetensors": weights}},
        {"main": COMMIT, "v0": OTHER_COMMIT},
    )


class FakeHub:
    """The server's state: repositories by id, and every request seen as (method, path)."""

    def __init__(self, repos: dict[str, FakeRepo]) -> None:
        self.repos = repos
        self.requests: list[tuple[str, str]] = []
        self.url = ""

    def answer(self, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for one request, as the Hub answers it."""
        self.requests.append((method, path))
        path = unquote(urlsplit(path).path)
        api = path.startswith("/api/models/")
        rest = path[len("/api/models/"):] if api else path.lstrip("/")
        parts = rest.split("/")
        repo_id, route = "/".join(parts[:2]), parts[2:]
        if len(route) < 2 or route[0] != ("tree" if api else "resolve"):
            return 404, {}, b"not a route of this hub"
        repo = self.repos.get(repo_id)
        if repo is None:  # the Hub says 401 for a repository it does not show you
            return 401, {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"}, b""
        commit = repo.refs.get(route[1], route[1] if route[1] in repo.files else None)
        if commit is None:
            return 404, {"X-Error-Code": "RevisionNotFound", "X-Error-Message": "Invalid rev id"}, b""
        files = repo.files[commit]
        if api:
            listing = [{"type": "file", "path": n, "size": len(b), "oid": hashlib.sha1(b).hexdigest()} for n, b in files.items()]
            return 200, {"Content-Type": "application/json", "X-Repo-Commit": commit}, json.dumps(listing).encode()
        name = "/".join(route[2:])
        if name not in files:
            return 404, {"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found", "X-Repo-Commit": commit}, b""
        body = files[name]
        return 200, {"X-Repo-Commit": commit, "ETag": f'"{hashlib.sha256(body).hexdigest()}"'}, body


class _Handler(BaseHTTPRequestHandler):
    """Hands each request to the server's FakeHub."""

    def _reply(self, with_body: bool) -> None:
        status, headers, body = self.server.hub.answer(self.command, self.path)  # type: ignore[attr-defined]
        self.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(key, value)
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's name)
        self._reply(False)

    def do_GET(self) -> None:  # noqa: N802
        self._reply(True)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def serving(repos: dict[str, FakeRepo], limit_s: float = 120.0) -> Iterator[FakeHub]:
    """The fake Hub on a free port of 127.0.0.1 (its address in `.url`) while the block runs; it
    stops when the block ends, or by itself after `limit_s` seconds."""
    hub = FakeHub(repos)
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    server.hub = hub  # type: ignore[attr-defined]
    server.timeout = 0.1
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    stop = threading.Event()
    deadline = time.monotonic() + limit_s

    def loop() -> None:
        while not stop.is_set() and time.monotonic() < deadline:
            server.handle_request()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        stop.set()
        thread.join(5)
        server.server_close()


def point_hub_at(monkeypatch: pytest.MonkeyPatch, url: str, home: Path, offline: bool = False) -> Path:
    """Make huggingface_hub (already imported: its constants are read at import) use `url` as
    HF_ENDPOINT, `home` as HF_HOME and HF_HUB_OFFLINE as given, as the environment variables would
    in a fresh process; returns the cache folder."""
    from huggingface_hub import constants

    cache = home / "hub"
    for name, value in {"HF_ENDPOINT": url, "HF_HOME": str(home), "HF_HUB_OFFLINE": "1" if offline else "0"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
    return cache


def prefill_cache(cache: Path, repo_id: str, commit: str, files: dict[str, bytes], ref: str = "main") -> Path:
    """Write a repository's files into a Hugging Face cache folder the way hf_hub_download leaves
    them (blobs by hash, snapshot links, the ref naming the commit); returns the snapshot folder."""
    folder = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = folder / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (folder / "blobs").mkdir()
    for name, body in files.items():
        blob = folder / "blobs" / hashlib.sha256(body).hexdigest()
        blob.write_bytes(body)
        (snapshot / name).symlink_to(Path("..", "..", "blobs", blob.name))
    (folder / "refs").mkdir()
    (folder / "refs" / ref).write_text(commit)
    return snapshot


def same_outputs(a: torch.nn.Module, b: torch.nn.Module, size: int = 64) -> bool:
    """Whether two models give identical outputs on one fixed input."""
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        return torch.equal(a(x), b(x))

