"""Feeds and links: pages and feeds served by a real loopback HTTP server, ingested into a real index.

The server holds what the web does to a fetcher: a slow page, a 404, a redirect loop, a page over the size limit,
an image where a page was expected, and a robots.txt that shuts a folder. Each is one failure of its own, and the
rest of the run is indexed.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa import Assistant, SentenceTransformerEmbedder
from qa.cli import commands, ingesting
from qa.cli.ingesting import parse_interval
from qa.ingest.feeds import MIN_BODY_WORDS, parse_feed
from qa.ingest.web import WebSources, sort_sources
from tests.conftest import ROOT, SEED_EXCHANGE, ServedUI, make_settings

_WORDS = (
    "The city council met on Tuesday to discuss the new harbour bridge, which engineers say will carry "
    "forty thousand cars a day once it opens. Residents raised concerns about noise and the loss of the old "
    "ferry, while shop owners near the quay welcomed the prospect of more visitors. The mayor promised a second "
    "public hearing before the final vote, and the regional transport office published its traffic study. "
)


def article_html(title: str, date: str, topic: str) -> str:
    paragraphs = "".join(f"<p>{topic} {_WORDS}Paragraph {n} adds its own detail about {topic}.</p>" for n in range(4))
    return (
        f"<html><head><title>{title}</title><meta property='article:published_time' content='{date}'></head>"
        f"<body><nav><a href='/'>Home</a></nav><article><h1>{title}</h1>{paragraphs}</article>"
        "<footer>Copyright</footer></body></html>"
    )


def long_text(topic: str) -> str:
    return " ".join([f"<p>{topic} {_WORDS}</p>"] * 3)


def rss(base: str) -> str:
    full = long_text("Wind farm")

    def teaser(n: int, title: str, path: str) -> str:
        return (
            f"<item><title>{title}</title><link>{base}{path}</link><guid>entry-{n}</guid>"
            f"<pubDate>Wed, 0{n} Jan 2024 09:00:00 GMT</pubDate><description>A short teaser.</description></item>"
        )

    return (
        '<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        "<channel><title>Harbour news</title>"
        f"<item><title>Wind farm approved</title><link>{base}/wind.html</link><guid>entry-1</guid>"
        "<pubDate>Mon, 01 Jan 2024 09:00:00 GMT</pubDate><author>desk@example.org (Ana Desk)</author>"
        f"<description>Short.</description><content:encoded><![CDATA[{full}]]></content:encoded></item>"
        + teaser(2, "Bridge vote delayed", "/bridge.html")
        + teaser(3, "Gone story", "/missing")
        + teaser(4, "Slow story", "/slow.html")
        + teaser(5, "Looping story", "/loop")
        + teaser(6, "Huge story", "/huge.html")
        + teaser(7, "Picture story", "/picture.png")
        + teaser(8, "Private story", "/private/secret.html")
        + "</channel></rss>"
    )


ATOM = (
    '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom desk</title>'
    "<id>urn:atom-desk</id><updated>2024-02-02T10:00:00Z</updated>"
    "<entry><title>Ferry returns</title><id>urn:ferry</id><link href='https://example.org/ferry'/>"
    "<updated>2024-02-02T10:00:00Z</updated>"
    f"<content type='html'><![CDATA[{long_text('Ferry service')}]]></content></entry></feed>"
)


class Site(ThreadingHTTPServer):
    daemon_threads = True
    requested: list[str]
    agents: set[str]


class Handler(BaseHTTPRequestHandler):
    server: Site

    def log_message(self, *args: object) -> None:  # quiet: pytest shows failures, not access logs
        pass

    def send(self, status: int, kind: str, body: bytes, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.requested.append(self.path)
        self.server.agents.add(self.headers.get("User-Agent", ""))
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        path = self.path
        if path == "/robots.txt":
            self.send(200, "text/plain", b"User-agent: *\nDisallow: /private/\n")
        elif path == "/article.html":
            self.send(200, "text/html; charset=utf-8", article_html("Harbour bridge", "2024-03-05", "Bridge").encode())
        elif path == "/bridge.html":
            self.send(200, "text/html", article_html("Bridge page title", "2024-01-20", "Vote").encode())
        elif path == "/feed.rss":
            self.send(200, "application/rss+xml", rss(base).encode())
        elif path == "/feed.atom":
            self.send(200, "text/html", ATOM.encode())  # a feed served with the wrong type is still a feed
        elif path == "/slow.html":
            time.sleep(3)
            with contextlib.suppress(OSError):  # the client gave up at its timeout, as it should
                self.send(200, "text/html", article_html("Slow", "2024-01-01", "Slow").encode())
        elif path == "/moved":
            self.send(301, "text/html", b"", Location="/article.html")
        elif path == "/loop":
            self.send(302, "text/html", b"", Location="/loop-again")
        elif path == "/loop-again":
            self.send(302, "text/html", b"", Location="/loop")
        elif path == "/huge.html":
            # No Content-Length: the limit must hold while the page streams.
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            try:
                for _ in range(40):
                    self.wfile.write(b"<p>" + b"x" * 100_000 + b"</p>")
            except OSError:
                pass  # the client hung up at its limit, as it should
        elif path == "/picture.png":
            self.send(200, "image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
        else:
            self.send(404, "text/html", b"<h1>Not found</h1>")


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[str, Site]]:
    server = Site(("127.0.0.1", 0), Handler)
    server.requested = []
    server.agents = set()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def web_assistant(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Assistant:
    settings = make_settings(tmp_path / "index", fetch_timeout=1.0, fetch_max_mb=1.0)
    return Assistant(settings, embedder=embedder)


# --- pure parts ------------------------------------------------------------------------------------


@pytest.mark.unit
def test_intervals_read_seconds_minutes_and_hours_and_refuse_too_often() -> None:
    assert (parse_interval("30s"), parse_interval("15m"), parse_interval("1h"), parse_interval("90")) == (
        30,
        900,
        3600,
        90,
    )
    for bad in ("1s", "often", "5d", ""):
        with pytest.raises(ValueError):
            parse_interval(bad)


@pytest.mark.unit
def test_sources_are_sorted_into_paths_urls_and_feeds_and_other_schemes_refused(tmp_path: Path) -> None:
    feed = tmp_path / "news.rss"
    feed.write_text(ATOM)
    sources = sort_sources(["https://example.org/a", "ftp://example.org/b", str(feed), str(tmp_path), "file:///x"])
    assert sources.urls == ["https://example.org/a"]
    assert sources.feeds == [feed]
    assert sources.paths == [str(tmp_path)]
    assert [f.path for f in sources.refused] == ["ftp://example.org/b", "file:///x"]
    assert all("only http:// and https://" in f.error for f in sources.refused)


@pytest.mark.unit
def test_a_feed_entry_is_full_or_a_teaser_and_html_is_no_feed() -> None:
    feed = parse_feed(rss("http://127.0.0.1:1").encode())
    assert feed is not None and feed.title == "Harbour news"
    first, second = feed.entries[:2]
    assert first.full and len(first.text.split()) >= MIN_BODY_WORDS and first.date == "2024-01-01"
    assert not second.full and second.link.endswith("/bridge.html") and second.date == "2024-01-02"
    assert parse_feed(article_html("A page", "2024-01-01", "Page").encode()) is None


@pytest.mark.unit
def test_an_empty_feed_is_nothing_to_ingest_and_a_page_is_no_feed(tmp_path: Path) -> None:
    empty = tmp_path / "empty.rss"
    empty.write_text('<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title></channel></rss>')
    page = tmp_path / "page.xml"
    page.write_text(article_html("Not a feed", "2024-01-01", "Page"))
    collected = WebSources(make_settings(tmp_path / "index")).collect([], [empty, page])
    assert collected.files == [] and collected.fetched == 0
    assert [(f.path, f.error) for f in collected.failed] == [
        (str(page), "is not an RSS or Atom feed feedparser can read")
    ]


# --- against the loopback site -----------------------------------------------------------------------


@pytest.mark.integration
def test_a_link_is_fetched_and_indexed_with_its_url_as_source(web_assistant: Assistant, site: tuple[str, Site]) -> None:
    base, _ = site
    report = web_assistant.ingest([f"{base}/article.html"])
    assert (report.added, report.failed, report.fetched) == (1, [], 1)
    [record] = web_assistant.articles()
    assert (record.title, record.date, record.source) == ("Harbour bridge", "2024-03-05", f"{base}/article.html")
    assert Path(record.file).is_relative_to(web_assistant.settings.fetched)
    again = web_assistant.ingest([f"{base}/article.html"])
    assert (again.added, again.updated, again.unchanged, again.fetched) == (0, 0, 1, 1)  # fetched again, unchanged


@pytest.mark.integration
def test_a_redirect_is_followed_and_the_page_read_where_it_landed(
    web_assistant: Assistant, site: tuple[str, Site]
) -> None:
    base, server = site
    report = web_assistant.ingest([f"{base}/moved"])
    assert (report.added, report.failed) == (1, [])
    [record] = web_assistant.articles()
    assert record.source == f"{base}/article.html"
    assert {agent.split("/")[0] for agent in server.agents} == {"newsqa"}
    assert all(agent.endswith("(+local news QA assistant)") for agent in server.agents)


@pytest.mark.integration
def test_a_feed_indexes_its_entries_and_each_bad_link_is_one_failure(
    web_assistant: Assistant, site: tuple[str, Site]
) -> None:
    base, server = site
    report = web_assistant.ingest([f"{base}/feed.rss"])
    records = {r.title: r for r in web_assistant.articles()}
    assert set(records) == {"Wind farm approved", "Bridge vote delayed"}
    wind, bridge = records["Wind farm approved"], records["Bridge vote delayed"]
    assert (wind.date, wind.source) == ("2024-01-01", f"{base}/wind.html")  # full content: its page not fetched
    assert "Ana Desk" in wind.author
    assert (bridge.date, bridge.source) == ("2024-01-02", f"{base}/bridge.html")  # the feed's date wins
    assert "/wind.html" not in server.requested
    assert "/private/secret.html" not in server.requested  # robots.txt said no: never asked for
    failed = {f.path.removeprefix(base): f.error for f in report.failed}
    assert set(failed) == {"/missing", "/slow.html", "/loop", "/huge.html", "/picture.png", "/private/secret.html"}
    assert "404" in failed["/missing"]
    assert "timed out after 1 s" in failed["/slow.html"] and "QA_FETCH_TIMEOUT" in failed["/slow.html"]
    assert "redirect loop" in failed["/loop"]
    assert "over the 1 MB limit" in failed["/huge.html"] and "QA_FETCH_MAX_MB" in failed["/huge.html"]
    assert "image/png" in failed["/picture.png"]
    assert "robots.txt" in failed["/private/secret.html"]
    assert report.added == 2

    again = web_assistant.ingest([f"{base}/feed.rss"])
    assert (again.added, again.updated, again.unchanged, again.removed, again.chunks) == (0, 0, 2, 0, 0)
    assert server.requested.count("/bridge.html") == 1  # an entry seen before is not fetched again


@pytest.mark.integration
def test_fetch_limits_are_per_run_and_other_schemes_are_refused(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, site: tuple[str, Site]
) -> None:
    base, _ = site
    assistant = Assistant(make_settings(tmp_path / "index", fetch_max_pages=1), embedder=embedder)
    dead = "http://127.0.0.1:9/story"  # the discard port: nothing listens, refused at once
    report = assistant.ingest([dead, f"{base}/article.html", f"{base}/bridge.html", "ftp://example.org/feed"])
    assert report.added == 1 and report.fetched == 1
    failed = {f.path: f.error for f in report.failed}
    assert "cannot be reached" in failed[dead]
    assert "QA_FETCH_MAX_PAGES" in failed[f"{base}/bridge.html"]
    assert "only http:// and https://" in failed["ftp://example.org/feed"]


@pytest.mark.integration
def test_an_atom_feed_served_as_html_is_read_as_a_feed(web_assistant: Assistant, site: tuple[str, Site]) -> None:
    base, _ = site
    report = web_assistant.ingest([f"{base}/feed.atom"])
    assert (report.added, report.failed) == (1, [])
    [record] = web_assistant.articles()
    assert (record.title, record.date, record.source) == ("Ferry returns", "2024-02-02", "https://example.org/ferry")


@pytest.mark.integration
def test_a_local_feed_needs_no_server_and_is_never_pruned_with_a_folder(
    web_assistant: Assistant, seeds_copy: Path, tmp_path: Path
) -> None:
    feed = tmp_path / "desk.rss"
    # Latin-1, as it declares: feedparser reads the declared encoding. The teaser's link points where nothing
    # listens (the discard port): a local feed fetches nothing, and its teaser is indexed with its own text.
    feed.write_bytes(
        (
            '<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel><title>Café desk</title>'
            "<item><title>Café reopens</title><guid>cafe</guid><pubDate>Fri, 05 Jan 2024 08:00:00 GMT</pubDate>"
            f"<description><![CDATA[{long_text('Café owners')}]]></description></item>"
            "<item><title>Teaser only</title><link>http://127.0.0.1:9/teaser</link>"
            "<description>The market hall will open a new wing in March, the council said.</description></item>"
            "</channel></rss>"
        ).encode("latin-1")
    )
    report = web_assistant.ingest([seeds_copy, feed])
    assert (report.added, report.failed, report.fetched) == (4, [], 0)
    records = {r.title: r for r in web_assistant.articles()}
    assert records["Café reopens"].date == "2024-01-05" and records["Café reopens"].source == str(feed)
    assert records["Teaser only"].source == "http://127.0.0.1:9/teaser"
    (seeds_copy / SEED_EXCHANGE).unlink()
    again = web_assistant.ingest([seeds_copy])
    assert (again.removed, again.unchanged) == (1, 1)
    assert {"Café reopens", "Teaser only"} <= {r.title for r in web_assistant.articles()}
    assert web_assistant.ingest([feed]).unchanged == 2


@pytest.mark.integration
def test_qa_watch_runs_rounds_of_incremental_ingest(
    tmp_path: Path, site: tuple[str, Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, _ = site
    slept: list[float] = []
    monkeypatch.setattr(ingesting.time, "sleep", slept.append)
    monkeypatch.setenv("QA_FETCH_TIMEOUT", "1")
    result = CliRunner().invoke(
        commands.cli,
        ["--index", str(tmp_path / "index"), "watch", f"{base}/feed.atom", "--every", "15m", "--rounds", "2"],
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if " round " in line]
    assert len(lines) == 2
    assert "round 1: added 1 " in lines[0] and "round 2: added 0 · updated 0 · unchanged 1" in lines[1]
    assert slept == [900]


@pytest.mark.integration
def test_the_library_adds_links_by_url_only_with_a_row_per_item(
    web_assistant: Assistant, site: tuple[str, Site], tmp_path: Path
) -> None:
    from qa.ui import library

    base, _ = site
    secret = tmp_path / "secret.txt"
    secret.write_text("Title: Secret\n\nA file of the server that no one typed a URL for.\n")
    text = f"{base}/article.html\n{base}/feed.rss {secret} file://{secret}"
    rows, note = library.add_links(web_assistant, text)
    by_item = {row[0].removeprefix(base): row[1:] for row in rows}
    assert by_item["/article.html"][0] == "added"
    assert by_item["/feed.rss"] == ["added", "2 article(s), " + by_item["/feed.rss"][1].split(", ")[1]]
    assert by_item["/missing"][0] == "failed" and "404" in by_item["/missing"][1]
    assert by_item[str(secret)][0] == "failed" and "only http:// and https://" in by_item[str(secret)][1]
    assert by_item[f"file://{secret}"][0] == "failed"
    assert "Secret" not in {r.title for r in web_assistant.articles()}  # a path typed here is never read
    assert note.startswith(f"{len(rows)} item(s): added 2")


@pytest.mark.integration
def test_the_web_ui_adds_a_link(served_ui: ServedUI, site: tuple[str, Site]) -> None:
    from gradio_client import Client

    base, _ = site
    client = Client(served_ui.url, verbose=False)
    results, note, *_ = client.predict(f"{base}/article.html", "", api_name="/add_links")
    assert [row[:2] for row in results["data"]] == [[f"{base}/article.html", "added"]], note
    assert "Harbour bridge" in {r.title for r in served_ui.assistant.articles()}


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed (.ci/run installs it)")
def test_qa_ingest_of_a_feed_contacts_only_the_site_it_names(tmp_path: Path, site: tuple[str, Site]) -> None:
    """Under strace: the feed's host and nothing else (its entries link to the same loopback site)."""
    from tests.test_network import environment, outside_contacts, traced

    base, _ = site
    log = tmp_path / "trace.log"
    command = traced(log, sys.executable, "-m", "qa.cli", "ingest", "--json", f"{base}/feed.rss")
    done = subprocess.run(
        command,
        env={**environment(tmp_path / "index"), "QA_FETCH_TIMEOUT": "1", "QA_FETCH_MAX_MB": "1"},
        cwd=ROOT,
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["added"] == 2
    assert outside_contacts(log) == []
    port = base.rsplit(":", 1)[1]
    ports = set(re.findall(r"sin_port=htons\((\d+)\), sin_addr=inet_addr\(\"127", log.read_text(errors="replace")))
    assert ports <= {port, "9"}, ports  # 9: the unreachable Ollama address the environment names
