"""The web UI as a hostile or careless visitor would try it, over real HTTP on loopback.

Only files that arrived through the upload are read; the chat history is the server's, not the request's; Gradio's
file route serves no server file; off loopback every endpoint asks for the password, and app.py refuses to start
open; two uploads of one name are two articles.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import sysconfig
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio import processing_utils
from gradio.utils import get_upload_folder
from gradio_client import Client, handle_file
from gradio_client.client import Endpoint

from qa import Assistant, ConfigError, SentenceTransformerEmbedder, Settings
from qa.offline import is_loopback
from qa.ui import build_app, launch, library
from qa.ui.access import ui_auth
from tests.conftest import ROOT, SEEDS, ServedUI, free_port, make_settings

pytestmark = pytest.mark.integration

FILE_META = {"_type": "gradio.FileData"}
# A licence file of the Python install: a real server file with an accepted ending (.txt).
LICENCE = Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt"
SERVER_FILES = [Path("/etc/passwd"), *([LICENCE] if LICENCE.is_file() else [])]
README_TEXT = "ask questions about your news articles"

# Every file this process opens is seen here (an audit hook cannot be removed, so it only looks at WATCHED).
WATCHED: set[str] = set()
OPENED: list[str] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and args and isinstance(args[0], str | Path) and str(args[0]) in WATCHED:
        OPENED.append(str(args[0]))


sys.addaudithook(_audit)


@pytest.fixture
def opened() -> Iterator[list[str]]:
    """The watched paths opened during the test (the served UI runs in this process)."""
    OPENED.clear()
    WATCHED.clear()
    yield OPENED
    WATCHED.clear()


def watch(*paths: Path) -> None:
    for path in paths:
        WATCHED.update({str(path), str(path.resolve())})


def rows(table: Any) -> list[list[Any]]:
    return list(table["data"]) if isinstance(table, dict) else list(table)


def sources(assistant: Assistant) -> list[str]:
    return sorted(r.source for r in assistant.articles())


def gradio_api(ui: ServedUI) -> str:
    return ui.url.rstrip("/") + "/gradio_api"


def call(ui: ServedUI, api: str, data: list[Any]) -> str:
    """POST /gradio_api/call/<api>, then read its event stream to the end; returns the stream's text."""
    base = gradio_api(ui)
    started = httpx.post(f"{base}/call/{api}", json={"data": data}, timeout=30)
    if started.status_code != 200:
        return f"HTTP {started.status_code}: {started.text}"
    event = started.json()["event_id"]
    with httpx.stream("GET", f"{base}/call/{api}/{event}", timeout=300) as stream:
        return "".join(stream.iter_text())


def join_queue(ui: ServedUI, api: str, data: list[Any]) -> str:
    """What the browser does: POST /gradio_api/queue/join for the event, read /queue/data until it completes."""
    base = gradio_api(ui)
    config = httpx.get(ui.url.rstrip("/") + "/config", timeout=30).json()
    fn_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == api)
    session = uuid.uuid4().hex[:11]
    body = {"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None}
    joined = httpx.post(f"{base}/queue/join", json=body, timeout=30)
    if joined.status_code != 200:
        return f"HTTP {joined.status_code}: {joined.text}"
    text = ""
    with httpx.stream("GET", f"{base}/queue/data", params={"session_hash": session}, timeout=300) as stream:
        for piece in stream.iter_text():
            text += piece
            if "process_completed" in text:
                break
    return text


def run(ui: ServedUI, api: str, data: list[Any]) -> str:
    """POST /gradio_api/run/<api>: the one-shot JSON route."""
    reply = httpx.post(f"{gradio_api(ui)}/run/{api}", json={"data": data}, timeout=300)
    return f"HTTP {reply.status_code}: {reply.text}"


# --- 1. only uploaded files are read ---------------------------------------------------------------------------


@pytest.mark.parametrize("route", [call, join_queue, run], ids=["call", "queue-join", "run"])
@pytest.mark.parametrize("server_file", SERVER_FILES, ids=lambda p: p.name)
def test_an_upload_naming_a_server_path_is_refused_and_not_indexed(
    served_ui: ServedUI, route: Any, server_file: Path, opened: list[str]
) -> None:
    before = sources(served_ui.assistant)
    watch(server_file)
    # The file data a client sends after a real upload, with a server path in place of the upload's.
    file_data = {"path": str(server_file), "orig_name": "article.txt", "meta": FILE_META}
    reply = route(served_ui, "upload", [[file_data], ""])
    assert "not uploaded by a user" in reply and "added" not in reply
    assert sources(served_ui.assistant) == before
    assert not opened, f"the server opened {opened}"
    assert not any(
        p.name in ("passwd", "LICENSE.txt", "article.txt") for p in served_ui.assistant.settings.uploads.rglob("*")
    )


def test_a_client_that_skips_the_upload_step_is_refused(
    served_ui: ServedUI, monkeypatch: pytest.MonkeyPatch, opened: list[str], tmp_path: Path
) -> None:
    # gradio_client uploads every local file it is given and sends the server the upload's path; a hostile
    # client sends its own path instead. This one is gradio_client with that step left out.
    secret = tmp_path / "secret.txt"  # in the system temp dir, which Gradio allows for outputs, not inputs
    secret.write_text("Title: Secret\n\nThe vault code is 4242.", encoding="utf-8")
    watch(secret)
    monkeypatch.setattr(Endpoint, "_upload_file", lambda self, f, data_index: f)
    client = Client(served_ui.url, verbose=False)
    before = sources(served_ui.assistant)
    with pytest.raises(Exception, match="not uploaded by a user"):
        client.predict([handle_file(str(secret))], "", api_name="/upload")
    assert sources(served_ui.assistant) == before and not opened
    assert all(r.title != "Secret" for r in served_ui.assistant.articles())


def test_an_upload_naming_a_url_of_the_servers_own_file_route_is_refused(
    served_ui: ServedUI, opened: list[str]
) -> None:
    # gradio_client sends a URL as it is (no upload); the upload box refuses every URL before Gradio would fetch
    # it (Gradio itself would refuse only private addresses such as this loopback one).
    watch(Path("/etc/passwd"))
    url = f"{gradio_api(served_ui)}/file=/etc/passwd"
    before = sources(served_ui.assistant)
    file_data = {"path": url, "url": url, "orig_name": "passwd.txt", "meta": FILE_META}
    with pytest.raises(Exception, match="never downloads a URL"):
        Client(served_ui.url, verbose=False).predict([file_data], "", api_name="/upload")
    assert sources(served_ui.assistant) == before and not opened


def test_a_symlink_in_gradios_upload_folder_to_a_server_file_is_refused(
    served_ui: ServedUI, opened: list[str], tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("Title: Secret\n\nThe vault code is 4242.", encoding="utf-8")
    folder = Path(get_upload_folder()) / f"qa-test-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    links = {"passwd.txt": Path("/etc/passwd"), "secret.txt": secret}
    try:
        for name, target in links.items():
            (folder / name).symlink_to(target)
        watch(*links.values())
        before = sources(served_ui.assistant)
        for name in links:
            file_data = {"path": str(folder / name), "orig_name": name, "meta": FILE_META}
            assert "not uploaded by a user" in call(served_ui, "upload", [[file_data], ""])
        assert sources(served_ui.assistant) == before and not opened
    finally:
        for name in links:
            (folder / name).unlink(missing_ok=True)
        folder.rmdir()


@pytest.mark.parametrize("route", [call, join_queue], ids=["call", "queue-join"])
def test_an_upload_naming_a_url_is_refused_and_never_fetched(
    served_ui: ServedUI, route: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Gradio itself would download a public URL into its upload folder, where it would then pass as uploaded:
    # the server would contact whatever host a request names. A public address, never reached: the fetch is
    # replaced by a recorder, so the test contacts nothing either.
    fetched: list[str] = []

    async def recorder(url: str, cache_dir: str) -> str:
        fetched.append(url)
        raise OSError("the test does not fetch")

    monkeypatch.setattr(processing_utils, "async_ssrf_protected_download", recorder)
    url = "http://93.184.215.14/article.txt"
    file_data = {"path": url, "url": url, "orig_name": "article.txt", "meta": FILE_META}
    before = sources(served_ui.assistant)
    with caplog.at_level(logging.WARNING, logger="qa.ui.access"):
        reply = route(served_ui, "upload", [[file_data], ""])
    assert fetched == [] and "never downloads a URL" in reply
    assert sources(served_ui.assistant) == before
    assert any(url in record.getMessage() for record in caplog.records)


def test_the_upload_handler_itself_refuses_a_server_path_with_a_row_and_a_log_line(
    served_ui: ServedUI, opened: list[str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # What reaches the handler past Gradio's own check is checked again: a path outside Gradio's upload folder,
    # or a link out of it, is refused and logged, and nothing is read or indexed.
    folder = Path(get_upload_folder())
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / f"qa-test-{uuid.uuid4().hex}.txt"
    link.symlink_to("/etc/passwd")
    paths = [str(p) for p in SERVER_FILES] + [str(link)]
    watch(*map(Path, paths))
    before = sources(served_ui.assistant)
    try:
        with caplog.at_level(logging.WARNING, logger="qa.ingest.uploads"):
            results, note = library.upload(served_ui.assistant, paths, received_in=folder)
    finally:
        link.unlink()
    assert [r[1] for r in results] == ["refused"] * len(paths)
    assert all("refused: only files uploaded through this page are read" in r[2] for r in results)
    assert note == f"{len(paths)} file(s): refused {len(paths)}."
    assert all(p in caplog.text for p in paths)
    assert sources(served_ui.assistant) == before and not opened


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        str(LICENCE),
        str(ROOT / "README.md"),  # the working directory of the tests (Gradio allows it for outputs only)
        "../../../../etc/passwd",
        f"{get_upload_folder()}/../../etc/passwd",
        "%2Fetc%2Fpasswd",
    ],
)
@pytest.mark.parametrize("prefix", ["/gradio_api/file=", "/gradio_api/file/", "/file="])
def test_gradios_file_route_serves_no_server_file(served_ui: ServedUI, prefix: str, path: str) -> None:
    reply = httpx.get(served_ui.url.rstrip("/") + prefix + path, timeout=30)
    assert reply.status_code in (403, 404), reply.status_code
    assert "root:" not in reply.text and "PYTHON SOFTWARE FOUNDATION" not in reply.text
    assert README_TEXT not in reply.text.lower()


def test_the_index_and_kept_uploads_are_not_served(served_ui: ServedUI, tmp_path: Path) -> None:
    article = tmp_path / "kept-article.txt"
    article.write_text("Title: Kept article\n\nA bakery in Ghent sold 312 loaves on Monday.", encoding="utf-8")
    client = Client(served_ui.url, verbose=False)
    results, *_ = client.predict([handle_file(str(article))], "", api_name="/upload")
    assert rows(results)[0][1] == "added"
    kept = next(served_ui.assistant.settings.uploads.rglob("kept-article.txt"))
    index_files = [p for p in served_ui.assistant.settings.index_dir.rglob("*") if p.is_file()]
    for path in [kept, *index_files[:5]]:
        reply = httpx.get(f"{gradio_api(served_ui)}/file={path}", timeout=30)
        assert reply.status_code == 403, path


def test_the_chat_reads_no_history_from_the_request(served_ui: ServedUI, opened: list[str], tmp_path: Path) -> None:
    # A chat message naming a component makes Gradio build that component from the request, and an "image"
    # opens the server file it names. The browser's event carries every input, the conversation's slot included
    # (index 1); the server takes that slot from its own session state, so the forged message reaches nothing.
    secret = tmp_path / "secret.png"
    secret.write_text("not an image", encoding="utf-8")
    watch(secret)
    image = {"type": "component", "component": "image", "value": {"path": str(secret)}}
    forged = [{"role": "user", "content": [{**image, "constructor_args": {}, "props": {}}]}]
    question = "How many F-16s is the Netherlands sending?"
    data = [question, forged, None, None, 5, "", "", "auto", "llama3.2:3b", "extract"]
    reply = join_queue(served_ui, "ask", data)
    assert not opened, f"the server opened {opened}"
    assert '"success":true' in reply.replace(" ", "") and str(secret) not in reply
    assert "eighteen" in reply.lower()


def test_only_the_upload_endpoint_takes_a_file_and_none_takes_the_chat_history(served_ui: ServedUI) -> None:
    api = Client(served_ui.url, verbose=False).view_api(print_info=False, return_format="dict")
    assert isinstance(api, dict)
    components = {
        name: [p["component"] for p in endpoint["parameters"]] for name, endpoint in api["named_endpoints"].items()
    }
    assert components["/upload"] == ["File", "Textbox"]
    assert "Chatbot" not in components["/ask"] and components["/ask"][0] == "Textbox"
    takes_files = {name for name, kinds in components.items() if {"File", "Image", "Chatbot"} & set(kinds)}
    assert takes_files == {"/upload"}, components
    assert set(components["/evaluate"]) == {"Number"} and set(components["/delete"]) <= {"Dropdown", "Textbox"}


def test_delete_takes_only_known_article_ids(served_ui: ServedUI, opened: list[str]) -> None:
    watch(Path("/etc/passwd"))
    before = sources(served_ui.assistant)
    note = library.delete(served_ui.assistant, ["/etc/passwd", before[0], None, 3, {"path": "/etc/passwd"}])
    assert note.startswith("Deleted 0 of 2") and sources(served_ui.assistant) == before and not opened


def test_a_follow_up_uses_the_conversation_the_server_kept(served_ui: ServedUI) -> None:
    client = Client(served_ui.url, verbose=False)
    client.predict(
        "How many F-16s is the Netherlands sending?", 5, "", "", "auto", "llama3.2:3b", "extract", api_name="/ask"
    )
    messages, _, _ = client.predict(
        "and how many did Norway send?", 5, "", "", "auto", "llama3.2:3b", "extract", api_name="/ask"
    )
    assert len(messages) == 4 and "How many F-16s did Norway send?" in str(messages[-1]["content"])
    other = Client(served_ui.url, verbose=False)  # another session starts its own conversation
    messages, _, _ = other.predict(
        "How many drones did Russia launch?", 5, "", "", "auto", "llama3.2:3b", "extract", api_name="/ask"
    )
    assert len(messages) == 2


# --- 7. two uploads of one name ----------------------------------------------------------------------------------


def test_two_uploads_with_the_same_name_and_other_content_are_both_kept(served_ui: ServedUI, tmp_path: Path) -> None:
    client = Client(served_ui.url, verbose=False)
    first, second = tmp_path / "a" / "same.txt", tmp_path / "b" / "same.txt"
    for path, text in (
        (first, "Title: Harbour reopens in Odesa\n\nThe harbour in Odesa reopened with 7 cranes on Monday."),
        (second, "Title: Bridge closes in Dnipro\n\nThe bridge in Dnipro closed for 9 days of repairs."),
    ):
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
    before = len(served_ui.assistant.articles())
    results, note, *_ = client.predict([handle_file(str(first))], "", api_name="/upload")
    assert rows(results) == [["same.txt", "added", "1 article(s), 1 chunks"]], note
    results, note, *_ = client.predict([handle_file(str(second))], "", api_name="/upload")
    assert rows(results) == [["same.txt", "added", "1 article(s), 1 chunks"]], note
    titles = {r.title for r in served_ui.assistant.articles()}
    assert {"Harbour reopens in Odesa", "Bridge closes in Dnipro"} <= titles
    assert len(served_ui.assistant.articles()) == before + 2

    again, _, *_ = client.predict([handle_file(str(first))], "", api_name="/upload")
    assert rows(again)[0][:2] == ["same.txt", "skipped"] and "unchanged" in rows(again)[0][2]
    assert len(served_ui.assistant.articles()) == before + 2
    kept = sorted(served_ui.assistant.settings.uploads.rglob("same.txt"))
    assert len(kept) == 2 and kept[0].parent != kept[1].parent


# --- 2. a login off loopback -------------------------------------------------------------------------------------


@pytest.mark.unit
def test_loopback_hosts_are_told_apart_from_the_rest() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.3.4.5", "::1", "[::1]", "localhost", "LOCALHOST"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "", "192.168.1.20", "10.0.0.1", "example.org"))


@pytest.mark.unit
def test_off_loopback_a_password_is_required_and_never_shown(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index")
    assert ui_auth(settings, "127.0.0.1") is None
    with pytest.raises(ConfigError, match="QA_UI_PASSWORD") as refused:
        ui_auth(settings, "0.0.0.0")
    assert "'0.0.0.0'" in str(refused.value) and "QA_UI_HOST=127.0.0.1" in str(refused.value)
    guarded = Settings(index_dir=tmp_path / "index", ui_password="s3cret-pw", ui_user="ana")
    assert ui_auth(guarded, "0.0.0.0") == ("ana", "s3cret-pw")
    assert ui_auth(guarded, "127.0.0.1") == ("ana", "s3cret-pw")  # a password set is asked for on loopback too
    assert "s3cret-pw" not in repr(guarded) and "s3cret-pw" not in str(guarded.model_dump())
    with pytest.raises(ConfigError, match="QA_UI_PASSWORD"):
        ui_auth(Settings(index_dir=tmp_path / "index", ui_password=""), "0.0.0.0")


@pytest.mark.unit
def test_launch_refuses_an_open_ui_off_loopback_and_gradio_allowed_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gradio as gr

    with gr.Blocks() as app:
        gr.Markdown("x")
    with pytest.raises(ConfigError, match="QA_UI_PASSWORD"):
        launch(app, host="0.0.0.0", port=free_port(), upload_max_mb=1, prevent_thread_lock=True, quiet=True)
    monkeypatch.setenv("GRADIO_ALLOWED_PATHS", "/etc")
    with pytest.raises(ConfigError, match="GRADIO_ALLOWED_PATHS"):
        launch(app, host="127.0.0.1", port=free_port(), upload_max_mb=1, prevent_thread_lock=True, quiet=True)
    assert not getattr(app, "is_running", False)


def app_py(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "GRADIO_"))}
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--no-seed", "--index", str(tmp_path / "index"), *args],
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )


@pytest.mark.parametrize("how", ["--host", "QA_UI_HOST"])
def test_app_py_off_loopback_without_a_password_refuses_to_start(tmp_path: Path, how: str) -> None:
    port = free_port()
    if how == "--host":
        done = app_py(tmp_path, "--host", "0.0.0.0", "--port", str(port))
    else:
        done = app_py(tmp_path, "--port", str(port), QA_UI_HOST="0.0.0.0")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in done.stderr
    assert "QA_UI_PASSWORD" in lines[0] and "'0.0.0.0'" in lines[0]
    assert not (tmp_path / "index").exists()  # refused before anything was opened or indexed


def test_app_py_turns_a_bad_setting_into_one_line(tmp_path: Path) -> None:
    done = app_py(tmp_path, QA_UI_PORT="not-a-port")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "ui_port" in done.stderr


@pytest.fixture(scope="module")
def guarded_ui(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder) -> Iterator[ServedUI]:
    """The UI listening on all interfaces with a password; the tests reach it through 127.0.0.1 only."""
    index_dir = tmp_path_factory.mktemp("guarded") / "index"
    assistant = Assistant(make_settings(index_dir, upload_max_mb=1, ui_password="tram-14"), embedder=embedder)
    assistant.ingest([SEEDS])
    app = build_app(assistant)
    port = free_port()
    auth = ui_auth(assistant.settings, "0.0.0.0")
    launch(app, host="0.0.0.0", port=port, upload_max_mb=1, auth=auth, prevent_thread_lock=True, quiet=True)
    try:
        yield ServedUI(f"http://127.0.0.1:{port}/", assistant)
    finally:
        app.close()


@pytest.mark.parametrize("api", ["upload", "ask", "delete", "articles"])
def test_off_loopback_an_unauthenticated_call_is_refused(guarded_ui: ServedUI, api: str) -> None:
    base = gradio_api(guarded_ui)
    assert httpx.post(f"{base}/call/{api}", json={"data": []}, timeout=30).status_code == 401
    assert httpx.post(f"{base}/run/{api}", json={"data": []}, timeout=30).status_code == 401
    joined = {"data": [], "fn_index": 0, "session_hash": "x1", "event_data": None, "trigger_id": None}
    assert httpx.post(f"{base}/queue/join", json=joined, timeout=30).status_code == 401
    upload = httpx.post(f"{base}/upload", files={"files": ("a.txt", b"Title: A\n\nText.")}, timeout=30)
    assert upload.status_code == 401
    assert httpx.get(guarded_ui.url.rstrip("/") + "/config", timeout=30).status_code == 401
    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises its own error types for a 401
        Client(guarded_ui.url, verbose=False)
    with pytest.raises(Exception):  # noqa: B017
        Client(guarded_ui.url, auth=("newsqa", "wrong"), verbose=False)


def test_off_loopback_an_authenticated_client_uploads_and_asks(guarded_ui: ServedUI, tmp_path: Path) -> None:
    client = Client(guarded_ui.url, auth=("newsqa", "tram-14"), verbose=False)
    article = tmp_path / "tram.txt"
    article.write_text("Title: Lviv opens a tram line\n\nThe new tram line in Lviv has 14 stops.", encoding="utf-8")
    results, *_ = client.predict([handle_file(str(article))], "", api_name="/upload")
    assert rows(results) == [["tram.txt", "added", "1 article(s), 1 chunks"]]
    messages, _, cards = client.predict(
        "How many stops does the new tram line in Lviv have?",
        5,
        "",
        "",
        "auto",
        "llama3.2:3b",
        "extract",
        api_name="/ask",
    )
    assert "14" in str(messages[-1]["content"]) and "Lviv opens a tram line" in cards
