"""Shared fixtures: real Chroma, the real bundled embedding model, and an Ollama-speaking server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from qa import Assistant, SentenceTransformerEmbedder, Settings
from tests.fake_ollama import FakeOllama

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SEED_OVERVIEW = "000_bf24438c6b7f9f23.txt"  # NU.nl overview, dated 2024-01-04
SEED_EXCHANGE = "002_0ef0543dc155b7a5.txt"  # prisoner exchange and drones, undated
UNREACHABLE_OLLAMA = "http://127.0.0.1:9"  # discard port: nothing listens, refused at once


def free_port() -> int:
    """A port nothing listens on right now, on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` on a free loopback port for the whole run; yields its URL (http://127.0.0.1:PORT)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    executable = Path(sys.executable).with_name("chroma")  # installed with chromadb, next to the venv's python
    if not executable.exists():
        pytest.skip(f"no `chroma` executable at {executable}; it comes with chromadb (run `make setup`)")
    folder = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    log = (folder / "server.log").open("w")
    server = subprocess.Popen(
        [str(executable), "run", "--path", str(folder / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120  # generous: the CPUs are shared with other work
        while True:
            if server.poll() is not None:
                pytest.fail(f"`chroma run` exited with {server.returncode}: {(folder / 'server.log').read_text()}")
            try:
                client = chromadb.HttpClient(
                    host="127.0.0.1", port=port, settings=ChromaSettings(anonymized_telemetry=False)
                )
                client.heartbeat()
                break
            except Exception:
                if time.monotonic() > deadline:
                    pytest.fail(f"`chroma run` gave no heartbeat on port {port} in 120 s; see {folder / 'server.log'}")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="session", autouse=True)
def user_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """What the code caches per user (a server index's retrieval cache, its uploads) goes to a temporary folder,
    for this process and the `qa` processes tests start, instead of ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("user-cache")
        patch.setenv("XDG_CACHE_HOME", str(folder))
        yield folder


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The bundled all-MiniLM-L6-v2, loaded once for the whole run."""
    return SentenceTransformerEmbedder()


def make_settings(index_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"index_dir": index_dir, "ollama_host": UNREACHABLE_OLLAMA, **overrides}
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "index")


@pytest.fixture
def assistant(settings: Settings, embedder: SentenceTransformerEmbedder) -> Assistant:
    """An assistant over an empty index in a temporary directory."""
    return Assistant(settings, embedder=embedder)


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """The seed articles in a folder the test may change."""
    target = tmp_path / "articles"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture(scope="session")
def seeded_index(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder) -> Path:
    """An index of seeds/, built once per run; tests open it read-only."""
    index_dir = tmp_path_factory.mktemp("seeded") / "index"
    report = Assistant(make_settings(index_dir), embedder=embedder).ingest([SEEDS])
    assert report.added == 2 and not report.failed
    return index_dir


@pytest.fixture
def seeded(seeded_index: Path, embedder: SentenceTransformerEmbedder) -> Assistant:
    """An assistant over the seed index, answering with the embedded model unless told otherwise."""
    return Assistant(make_settings(seeded_index, backend="embedded"), embedder=embedder)


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    server = FakeOllama().start()
    yield server
    server.stop()


@dataclass
class ServedUI:
    url: str
    assistant: Assistant


@pytest.fixture(scope="module")
def served_ui(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder) -> Iterator[ServedUI]:
    """The web UI on loopback over its own index of seeds/ (tests may add and delete articles)."""
    from qa.ui import build_app, launch

    index_dir = tmp_path_factory.mktemp("ui") / "index"
    assistant = Assistant(make_settings(index_dir, upload_max_mb=1), embedder=embedder)
    assistant.ingest([SEEDS])
    app = build_app(assistant, eval_set=ROOT / "evals" / "seeds.jsonl", eval_articles=SEEDS)
    port = free_port()
    launch(app, host="127.0.0.1", port=port, upload_max_mb=1, prevent_thread_lock=True, quiet=True)
    try:
        yield ServedUI(f"http://127.0.0.1:{port}/", assistant)
    finally:
        app.close()
