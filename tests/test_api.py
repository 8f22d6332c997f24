"""The HTTP API served for real (uvicorn on loopback, the web UI mounted beside it), called with httpx."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from qa import Answer, Assistant, ConfigError, SentenceTransformerEmbedder, Settings, Status
from qa.api import build_api
from qa.api.access import KEY_MISSING, KEY_WRONG, api_key
from qa.api.limits import JSON_MAX_BYTES, UPLOAD_FILES_MAX
from qa.api.server import build_server
from qa.cli.commands import cli
from tests.api_server import serving
from tests.conftest import ROOT, SEEDS, free_port, make_settings
from tests.fake_ollama import FakeOllama

pytestmark = pytest.mark.integration

DRONES = "How many drones did Russia launch?"
HARBOUR = (
    "Harbour of Vlissingen reopens\n\nThe harbour of Vlissingen reopened on 3 March 2024 after 12 weeks of repairs.\n"
)


@dataclass
class Served:
    url: str
    assistant: Assistant
    ollama: FakeOllama


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder) -> Iterator[Served]:
    """`qa serve`'s app (UI + API on one port) over its own index of seeds/, answering through a fake Ollama."""
    ollama = FakeOllama().start()
    index_dir = tmp_path_factory.mktemp("api") / "index"
    assistant = Assistant(make_settings(index_dir, upload_max_mb=1, ollama_host=ollama.url), embedder=embedder)
    assistant.ingest([SEEDS])
    app = build_server(assistant, host="127.0.0.1", port=0, key=None, ui_auth=None)
    try:
        with serving(app) as url:
            yield Served(url, assistant, ollama)
    finally:
        ollama.stop()


@pytest.fixture
def api(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=120) as client:
        yield client


def events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """The (event, data) pairs of a server-sent event stream."""
    found = []
    for block in response.text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if lines:
            found.append((lines["event"], json.loads(lines["data"])))
    return found


# --- one server, two faces -----------------------------------------------------------------------------------


def test_the_web_ui_and_the_api_answer_on_one_port(api: httpx.Client) -> None:
    page = api.get("/")
    assert page.status_code == 200 and "gradio" in page.text.lower()
    assert api.get("/api/health").json() == {"status": "ok"}
    assert api.get("/openapi.json").json()["info"]["title"] == "newsqa"
    assert api.get("/docs").status_code == 200


def test_status_is_the_python_apis_status(api: httpx.Client, served: Served) -> None:
    reply = api.get("/api/status")
    assert reply.status_code == 200
    status = Status.model_validate(reply.json())
    assert (status.articles, status.backend) == (served.assistant.status().articles, "ollama")


# --- asking ----------------------------------------------------------------------------------------------------


def test_ask_replies_with_the_object_qa_ask_json_prints(
    api: httpx.Client, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    reply = api.post("/api/ask", json={"question": DRONES, "mode": "extract"})
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
    monkeypatch.setenv("OLLAMA_HOST", served.ollama.url)
    index = str(served.assistant.settings.index_dir)
    printed = CliRunner().invoke(cli, ["--index", index, "ask", "--json", "--mode", "extract", DRONES])
    assert printed.exit_code == 0, printed.output
    by_api, by_cli = reply.json(), json.loads(printed.stdout)
    by_api.pop("timings_ms"), by_cli.pop("timings_ms")
    assert by_api == by_cli and "176" in by_api["answer"] and not by_api["refused"]


def test_ask_takes_the_options_of_qa_ask(api: httpx.Client) -> None:
    choice = api.post("/api/ask", json={"question": DRONES, "choices": ["176", "42"], "top_k": 3}).json()
    assert choice["choices"] == ["176", "42"] and choice["choice"] == 0
    follow = api.post(
        "/api/ask", json={"question": "and how many were shot down?", "history": [DRONES], "mode": "extract"}
    ).json()
    assert follow["standalone_question"] and "drones" in follow["standalone_question"]


def test_stream_sends_the_models_tokens_then_the_answer(api: httpx.Client) -> None:
    body = {"question": DRONES, "stream": True, "backend": "ollama", "mode": "generate"}
    with api.stream("POST", "/api/ask", json=body) as reply:
        reply.read()
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
    found = events(reply)
    names = [name for name, _ in found]
    assert names[-1] == "answer" and names[:-1] and set(names[:-1]) == {"token"}
    draft = "".join(data["text"] for name, data in found if name == "token")
    assert "[1]" in draft  # the fake Ollama's reply: passage [1]'s first sentence, cited
    answer = Answer.model_validate(found[-1][1])
    assert answer.backend == "ollama" and answer.citations


def test_stream_in_extract_mode_sends_only_the_answer(api: httpx.Client) -> None:
    with api.stream("POST", "/api/ask", json={"question": DRONES, "stream": True, "mode": "extract"}) as reply:
        reply.read()
    assert [name for name, _ in events(reply)] == ["answer"]


# --- articles ------------------------------------------------------------------------------------------------


def test_upload_list_get_ask_and_delete_an_article(api: httpx.Client, tmp_path: Path) -> None:
    files = [("files", ("harbour.txt", HARBOUR.encode(), "text/plain")), ("files", ("empty.txt", b"", "text/plain"))]
    reply = api.post("/api/articles", files=files)
    assert reply.status_code == 200, reply.text
    report = reply.json()
    assert [(f["file"], f["result"]) for f in report["files"]] == [("harbour.txt", "added"), ("empty.txt", "failed")]
    assert "the file is empty" in report["files"][1]["detail"] and report["summary"] == "2 file(s): added 1 · failed 1."
    again = api.post("/api/articles", files=files[:1]).json()["files"][0]
    assert again["result"] == "skipped" and "unchanged" in again["detail"]

    page = api.get("/api/articles", params={"limit": 50}).json()
    assert page["total"] == 3 and len(page["articles"]) == 3
    harbour = next(a for a in page["articles"] if a["title"] == "Harbour of Vlissingen reopens")
    assert api.get(f"/api/articles/{harbour['doc_id']}").json() == harbour
    answer = api.post(
        "/api/ask", json={"question": "How many weeks of repairs did the harbour need?", "mode": "extract"}
    )
    assert answer.json()["citations"][0]["doc_id"] == harbour["doc_id"]

    assert api.delete(f"/api/articles/{harbour['doc_id']}").json() == {"doc_id": harbour["doc_id"], "removed": 1}
    gone = api.get(f"/api/articles/{harbour['doc_id']}")
    assert gone.status_code == 404 and "GET /api/articles" in gone.json()["error"]
    assert api.delete(f"/api/articles/{harbour['doc_id']}").status_code == 404
    assert api.get("/api/articles").json()["total"] == 2


def test_uploads_get_the_web_uis_limits_and_messages(api: httpx.Client) -> None:
    big = b"The harbour reopened. " * 60_000  # 1.3 MB against this server's 1 MB limit
    files = [("files", ("big.txt", big, "text/plain")), ("files", ("slides.pdf", b"%PDF-1.4", "application/pdf"))]
    results = {f["file"]: f for f in api.post("/api/articles", files=files).json()["files"]}
    assert results["big.txt"]["result"] == "failed" and "over the 1 MB upload limit" in results["big.txt"]["detail"]
    assert results["slides.pdf"]["result"] == "failed" and ".pdf is not accepted" in results["slides.pdf"]["detail"]
    many = [("files", (f"{n}.txt", b"text", "text/plain")) for n in range(UPLOAD_FILES_MAX + 1)]
    refused = api.post("/api/articles", files=many)
    assert refused.status_code == 413 and f"at most {UPLOAD_FILES_MAX}" in refused.json()["error"]
    assert api.post("/api/articles").status_code == 422  # no files at all
    assert api.get("/api/articles").json()["total"] == 2


def test_articles_come_in_pages(api: httpx.Client) -> None:
    everything = api.get("/api/articles").json()["articles"]
    second = api.get("/api/articles", params={"offset": 1, "limit": 1}).json()
    assert second == {"total": 2, "offset": 1, "limit": 1, "articles": everything[1:2]}
    for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}):
        reply = api.get("/api/articles", params=bad)
        assert reply.status_code == 422 and next(iter(bad)) in reply.json()["error"]


# --- errors: one line, the CLI's message, the right status ---------------------------------------------------------


@pytest.mark.parametrize("question", ["", "   \n "])
def test_an_empty_question_is_422_naming_the_field(api: httpx.Client, question: str) -> None:
    for stream in (False, True):
        reply = api.post("/api/ask", json={"question": question, "stream": stream})
        assert reply.status_code == 422
        assert reply.json() == {"error": "question: The question is empty; ask something about the indexed articles"}


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({}, "question: Field required"),
        ({"question": DRONES, "top_k": 0}, "top_k:"),
        ({"question": DRONES, "mode": "guess"}, "mode:"),
        ({"question": DRONES, "choices": ["only one"]}, "at least two non-empty choices"),
        ({"question": DRONES, "colour": "red"}, "colour: Extra inputs are not permitted"),
        ({"question": 42}, "question must be a str"),
        ({"question": DRONES, "date_from": "soon"}, "date_from must be a date like 2024-01-31, got 'soon'"),
    ],
)
def test_bad_input_is_422_with_one_line_naming_it(api: httpx.Client, body: dict[str, Any], named: str) -> None:
    reply = api.post("/api/ask", json=body)
    assert reply.status_code == 422 and named in reply.json()["error"] and "\n" not in reply.json()["error"]


def test_a_body_that_is_not_json_is_422(api: httpx.Client) -> None:
    reply = api.post("/api/ask", content=b"question=drones", headers={"content-type": "application/json"})
    assert reply.status_code == 422 and reply.json()["error"].startswith("The body is not JSON")


def test_a_json_body_over_the_limit_is_413_whether_or_not_it_says_its_length(api: httpx.Client) -> None:
    body = json.dumps({"question": "x" * JSON_MAX_BYTES}).encode()
    declared = api.post("/api/ask", content=body, headers={"content-type": "application/json"})
    chunked = api.post(
        "/api/ask", content=iter([body[:1000], body[1000:]]), headers={"content-type": "application/json"}
    )
    for reply in (declared, chunked):
        assert reply.status_code == 413 and "64 KB limit" in reply.json()["error"]


def test_an_empty_index_is_409_with_the_ingest_command(assistant: Assistant) -> None:
    with serving(build_api(assistant)) as url:
        for stream in (False, True):
            reply = httpx.post(f"{url}/api/ask", json={"question": DRONES, "stream": stream}, timeout=60)
            assert reply.status_code == 409 and "add articles with `qa ingest PATH` first" in reply.json()["error"]


@pytest.mark.parametrize("how", ["down", "html"])
def test_ollama_down_or_broken_is_503_with_the_fix(seeded: Assistant, ollama: FakeOllama, how: str) -> None:
    assistant = seeded.using(ollama_host=ollama.url)
    if how == "down":
        ollama.stop()
    else:
        ollama.fault = "html"
    body = {"question": DRONES, "backend": "ollama", "mode": "generate"}
    with serving(build_api(assistant)) as url:
        for stream in (False, True):
            reply = httpx.post(f"{url}/api/ask", json={**body, "stream": stream}, timeout=60)
            assert reply.status_code == 503, reply.text
            error = reply.json()["error"]
            assert ollama.url in error and ("ollama serve" in error or "--backend embedded" in error)


def test_an_unexpected_failure_is_500_without_a_traceback(seeded: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> list[Any]:
        raise RuntimeError("secret internals /srv/index")

    monkeypatch.setattr(seeded, "articles", broken)
    with serving(build_api(seeded)) as url:
        reply = httpx.get(f"{url}/api/articles", timeout=60)
    assert reply.status_code == 500
    assert reply.json() == {"error": "Internal error while handling the request; the server log has the details"}


# --- who may call it -----------------------------------------------------------------------------------------------


def test_with_a_key_every_route_but_health_asks_for_it(seeded: Assistant) -> None:
    settings = make_settings(seeded.settings.index_dir, api_key="tram-14-key")
    key = api_key(settings, "127.0.0.1")  # a key that is set is asked for on loopback too
    assert key == "tram-14-key"
    with serving(build_api(seeded, key=key)) as url:
        assert httpx.get(f"{url}/api/health").status_code == 200
        missing = httpx.get(f"{url}/api/articles")
        assert missing.status_code == 401 and missing.json() == {"error": KEY_MISSING}
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = httpx.post(f"{url}/api/ask", json={"question": DRONES}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json() == {"error": KEY_WRONG}
        assert httpx.get(f"{url}/api/articles", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        spec = httpx.get(f"{url}/openapi.json").json()
        assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_without_a_key_the_api_is_open_on_loopback_only(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index")
    assert api_key(settings, "127.0.0.1") is None and api_key(settings, "::1") is None
    with pytest.raises(ConfigError, match="QA_API_KEY") as refused:
        api_key(settings, "0.0.0.0")
    assert "--host 127.0.0.1" in str(refused.value)


def test_serve_off_loopback_without_an_api_key_refuses_to_start(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env = {**clean, "PYTHONPATH": str(ROOT), "QA_UI_PASSWORD": "s3cret-pw", "QA_INDEX_DIR": str(tmp_path / "index")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--host", "0.0.0.0", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "QA_API_KEY" in lines[0]
    assert not (tmp_path / "index").exists()  # refused before anything was opened or indexed
