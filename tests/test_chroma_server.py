"""The index on a Chroma server (QA_CHROMA_URL): a real `chroma run` on loopback, the same behaviour as on disk."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa import Assistant, ChromaUnreachableError, IndexMismatchError, SentenceTransformerEmbedder, Settings
from qa.cli.commands import cli
from qa.index.store import Store
from qa.retrieval.hybrid import bm25_for
from tests.conftest import ROOT, SEED_EXCHANGE, SEED_OVERVIEW, SEEDS, UNREACHABLE_OLLAMA, free_port, make_settings

pytestmark = pytest.mark.integration

F16 = "How many F-16s is the Netherlands sending?"


def server_settings(url: str, collection: str, tmp_path: Path, **overrides: object) -> Settings:
    """Settings for an index on the server; index_dir points at a folder that must stay untouched."""
    return make_settings(tmp_path / "unused-index", chroma_url=url, collection=collection, **overrides)


def collection_for(request: pytest.FixtureRequest) -> str:
    """One collection prefix per test: the tests share one server but never each other's articles."""
    return re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).strip("-")[:60]


@pytest.fixture
def on_server(
    chroma_server: str, tmp_path: Path, request: pytest.FixtureRequest, embedder: SentenceTransformerEmbedder
) -> Assistant:
    """An assistant over an empty index of its own on the shared Chroma server."""
    return Assistant(server_settings(chroma_server, collection_for(request), tmp_path), embedder=embedder)


@pytest.fixture(scope="module")
def seeded_server(
    chroma_server: str, tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Assistant:
    """seeds/ indexed once on the server; tests only read it."""
    settings = server_settings(chroma_server, "seeded", tmp_path_factory.mktemp("seeded-server"), backend="embedded")
    assistant = Assistant(settings, embedder=embedder)
    report = assistant.ingest([SEEDS])
    assert report.added == 2 and not report.failed
    return assistant


def test_seeds_are_indexed_on_the_server_and_a_second_ingest_changes_nothing(
    on_server: Assistant, tmp_path: Path
) -> None:
    first = on_server.ingest([SEEDS])
    assert (first.added, first.failed) == (2, []) and first.chunks > 0
    again = on_server.ingest([SEEDS])
    assert (again.added, again.updated, again.unchanged, again.removed, again.chunks) == (0, 0, 2, 0, 0)
    assert on_server.store.count_chunks() == first.chunks
    assert not (tmp_path / "unused-index").exists()  # nothing is written to index_dir when the index is remote


def test_status_names_the_server_and_counts_what_it_holds(seeded_server: Assistant, chroma_server: str) -> None:
    status = seeded_server.status(probe_backend=False)
    assert (status.index, status.server, status.collection) == (chroma_server, True, "seeded")
    assert status.articles == 2 and status.chunks == seeded_server.store.count_chunks() > 0


def test_a_question_is_answered_from_the_server_index_with_a_citation(seeded_server: Assistant) -> None:
    answer = seeded_server.ask(F16, mode="extract")
    assert not answer.refused and answer.citations, answer.answer
    assert "eighteen" in answer.answer.lower()
    assert Path(answer.citations[0].source).name == SEED_OVERVIEW
    assert answer.citations[0].quote in (SEEDS / SEED_OVERVIEW).read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_embedded_model_answers_from_the_server_index(seeded_server: Assistant) -> None:
    answer = seeded_server.ask("How many drones did Russia launch?", mode="generate")
    assert answer.backend == "embedded" and not answer.refused and answer.citations, answer.answer
    assert any(Path(c.source).name == SEED_EXCHANGE and "176 drones" in c.text for c in answer.citations)


def test_removing_an_article_drops_it_and_its_chunks_from_the_server(on_server: Assistant) -> None:
    on_server.ingest([SEEDS])
    overview = next(r for r in on_server.articles() if Path(r.source).name == SEED_OVERVIEW)
    assert on_server.remove([overview.doc_id, "no-such-article"]) == 1
    assert [Path(r.source).name for r in on_server.articles()] == [SEED_EXCHANGE]
    assert {c.doc_id for c in on_server.store.iter_chunks()} != set() and all(
        c.doc_id != overview.doc_id for c in on_server.store.iter_chunks()
    )


def test_two_assistants_on_one_server_see_each_others_changes(
    on_server: Assistant, embedder: SentenceTransformerEmbedder
) -> None:
    # Two processes (two UIs, or the CLI and a UI) share the index through the server.
    other = Assistant(on_server.settings.model_copy(), embedder=embedder)
    assert other.status(probe_backend=False).articles == 0
    on_server.ingest([SEEDS])
    assert {r.doc_id for r in other.articles()} == {r.doc_id for r in on_server.articles()}
    assert "eighteen" in other.ask(F16, mode="extract").answer.lower()

    overview = next(r for r in other.articles() if Path(r.source).name == SEED_OVERVIEW)
    revision = on_server.store.revision()
    other.remove([overview.doc_id])
    # Both see the change's new revision (a collection object alone keeps the metadata it was opened with),
    # so keyword indexes built from the older revision are rebuilt.
    assert on_server.store.revision() == other.store.revision() == revision + 1
    assert all(c.doc_id != overview.doc_id for c in bm25_for(on_server.store).live_chunks())
    assert [Path(r.source).name for r in on_server.articles()] == [SEED_EXCHANGE]


def test_another_embedding_model_is_refused_by_an_index_on_the_server(
    seeded_server: Assistant, chroma_server: str
) -> None:
    other = Store(seeded_server.settings, "some-other-model")  # another client of the same server
    with pytest.raises(IndexMismatchError, match=re.escape(chroma_server)) as raised:
        other.count_chunks()
    assert "qa ingest --rebuild" in str(raised.value) and "QA_COLLECTION" in str(raised.value)


def test_two_collection_prefixes_keep_two_indexes_apart_on_one_server(
    on_server: Assistant, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    on_server.ingest([SEEDS / SEED_OVERVIEW])
    prefix = on_server.settings.collection + "-b"
    second = Assistant(on_server.settings.model_copy(update={"collection": prefix}), embedder=embedder)
    second.ingest([SEEDS / SEED_EXCHANGE])
    assert [Path(r.source).name for r in on_server.articles()] == [SEED_OVERVIEW]
    assert [Path(r.source).name for r in second.articles()] == [SEED_EXCHANGE]


def test_an_unreachable_server_is_an_error_that_names_the_url_and_the_fix(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    assistant = Assistant(make_settings(tmp_path / "index", chroma_url=url))
    with pytest.raises(ChromaUnreachableError) as raised:
        assistant.status(probe_backend=False)
    message = str(raised.value)
    assert url in message and "chroma run --path DIR --port N" in message and "unset QA_CHROMA_URL" in message


def test_the_cli_reports_an_unreachable_server_in_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "QA_CHROMA_URL": url, "OLLAMA_HOST": UNREACHABLE_OLLAMA}
    done = subprocess.run(
        [sys.executable, "-m", "qa.cli", "status"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert url in done.stderr and "chroma run" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_cli_chroma_url_option_ingests_asks_and_shows_the_server_in_status(
    chroma_server: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("QA_COLLECTION", collection_for(request))
    monkeypatch.setenv("OLLAMA_HOST", UNREACHABLE_OLLAMA)
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "unused-index"))
    runner = CliRunner()
    ingested = runner.invoke(cli, ["--chroma-url", chroma_server, "ingest", "--json", str(SEEDS)])
    assert ingested.exit_code == 0, ingested.output
    assert json.loads(ingested.output)["added"] == 2

    asked = runner.invoke(cli, ["--chroma-url", chroma_server, "ask", "--json", "--mode", "extract", F16])
    assert asked.exit_code == 0, asked.output
    assert json.loads(asked.output)["citations"]

    status = runner.invoke(cli, ["--chroma-url", chroma_server, "status"])
    assert status.exit_code == 0, status.output
    assert chroma_server in status.output and "Chroma server" in status.output
    assert re.search(r"articles\s+2\b", status.output)
    assert not (tmp_path / "unused-index").exists()


def test_an_index_directory_on_the_command_line_wins_over_qa_chroma_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("QA_CHROMA_URL", f"http://127.0.0.1:{free_port()}")  # would fail: nothing listens
    monkeypatch.setenv("OLLAMA_HOST", UNREACHABLE_OLLAMA)
    result = CliRunner().invoke(cli, ["--index", str(tmp_path / "index"), "status", "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert (status["server"], status["articles"]) == (False, 0)
    both = CliRunner().invoke(cli, ["--index", str(tmp_path), "--chroma-url", "http://127.0.0.1:8000", "status"])
    assert both.exit_code == 2 and "give one of them" in both.output


def test_the_web_ui_lists_and_answers_from_the_server_index(seeded_server: Assistant) -> None:
    from gradio_client import Client

    from qa.ui import build_app, launch

    app = build_app(seeded_server, eval_set=ROOT / "evals" / "seeds.jsonl", eval_articles=SEEDS)
    port = free_port()
    launch(app, host="127.0.0.1", port=port, upload_max_mb=1, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        listed, _ = client.predict("", api_name="/articles")
        table = listed.get("value", listed) if isinstance(listed, dict) else listed  # an update: label and value
        assert len(table["data"] if isinstance(table, dict) else table) == 2
        messages, _, sources = client.predict(F16, 5, "", "", "auto", "llama3.2:3b", "extract", api_name="/ask")
        assert "eighteen" in str(messages[-1]["content"]).lower() and 'id="qa-src-1-1"' in sources
    finally:
        app.close()


@pytest.fixture
def lone_server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A `chroma run` of this test's own, which the test may stop; yields its URL and process."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    port = free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("chroma")), "run", "--path", str(tmp_path / "data"), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            try:
                chromadb.HttpClient(port=port, settings=ChromaSettings(anonymized_telemetry=False)).heartbeat()
                break
            except Exception:
                assert time.monotonic() < deadline, f"no heartbeat from `chroma run` on port {port}"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", server
    finally:
        if server.poll() is None:
            server.kill()
        server.wait()
        log.close()


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(timeout=30)


def test_a_server_lost_mid_session_is_an_error_that_names_the_url_and_the_fix(
    lone_server: tuple[str, subprocess.Popen[bytes]], tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    url, server = lone_server
    assistant = Assistant(server_settings(url, "lost", tmp_path), embedder=embedder)
    assistant.ingest([SEEDS])
    assert assistant.retrieve(F16)
    _stop(server)
    for call in (
        lambda: assistant.retrieve("Where did the drones come from?"),  # reading
        lambda: assistant.ingest([SEEDS]),  # writing
        lambda: assistant.remove(["any-id"]),
        lambda: assistant.status(probe_backend=False),
    ):
        with pytest.raises(ChromaUnreachableError) as raised:
            call()
        message = str(raised.value)
        assert message.startswith(f"Lost the Chroma server at {url} (") and "\n" not in message
        assert "chroma run --path DIR --port N" in message and "unset QA_CHROMA_URL" in message


def test_the_cli_reports_a_server_lost_mid_session_in_one_line(
    lone_server: tuple[str, subprocess.Popen[bytes]], tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    url, server = lone_server
    Assistant(server_settings(url, "lost-cli", tmp_path), embedder=embedder).ingest([SEEDS])
    env = {
        **os.environ,
        "QA_CHROMA_URL": url,
        "QA_COLLECTION": "lost-cli",
        "QA_MODE": "extract",
        "OLLAMA_HOST": UNREACHABLE_OLLAMA,
    }
    chat = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "chat"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert chat.stdout is not None
        opened = chat.stdout.readline()  # "2 articles (2 stories) indexed · answering with …": the session is open
        assert "2 articles (2 stories) indexed" in opened, opened
        _stop(server)
        _, stderr = chat.communicate(f"{F16}\n\n", timeout=300)
    finally:
        if chat.poll() is None:
            chat.kill()
            chat.wait()
    assert chat.returncode == 0 and "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and f"Lost the Chroma server at {url}" in errors[0] and "chroma run" in errors[0], stderr
