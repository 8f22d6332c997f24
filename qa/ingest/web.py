"""Links and feeds as ingest sources: fetched (or read, for a local feed file) into JSON lines files that the
ordinary ingest then reads, so re-ingesting is incremental the same way (unchanged skipped by content hash, updates
replace their old version).

Each URL or feed file the user gives has one file in `Settings.fetched`: `<host>/<sha16 of the URL>.jsonl`, or
`local/<sha16 of the path>.jsonl` for a feed file. A record's `url` (the article's source) is the page's URL, never
that file. A feed's file only grows: an entry that has dropped out of the feed stays (feeds list their latest
entries only, and that is no reason to forget the older ones), an entry the feed changed replaces its record, and an
entry seen before with the same stamp is not fetched again. Nothing here is ever pruned: these files are named by
file, not found under an ingested folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from qa.errors import DocumentError
from qa.ingest.feeds import Entry, Feed, looks_like_xml, parse_feed
from qa.ingest.fetch import FEED_TYPES, PAGE_TYPES, Fetched, Fetcher, FetchError, url_problem
from qa.ingest.report import FailedFile
from qa.settings import Settings

FEED_SUFFIXES = (".xml", ".rss", ".atom")
_URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DIGEST_CHARS = 16


@dataclass
class Sources:
    """What an ingest was given, sorted: files and folders, URLs, local feed files, and what was refused."""

    paths: list[str | Path] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    feeds: list[Path] = field(default_factory=list)
    refused: list[FailedFile] = field(default_factory=list)


def sort_sources(items: Iterable[str | Path]) -> Sources:
    """A path that exists is a path; `http(s)://…` is a URL (another scheme is refused); a .xml/.rss/.atom file
    is a feed."""
    sources = Sources()
    for item in items:
        text = os.fspath(item)
        if isinstance(item, str) and _URL_LIKE.match(text) and not os.path.lexists(text):
            problem = url_problem(text)
            if problem:
                sources.refused.append(FailedFile(path=text, error=problem))
            else:
                sources.urls.append(text)
        elif Path(text).suffix.lower() in FEED_SUFFIXES and Path(text).expanduser().is_file():
            sources.feeds.append(Path(text).expanduser())
        else:
            sources.paths.append(item)
    return sources


@dataclass
class Collected:
    files: list[Path] = field(default_factory=list)  # JSON lines files for the ingest to read
    failed: list[FailedFile] = field(default_factory=list)
    fetched: int = 0  # documents downloaded (robots.txt not counted)


class WebSources:
    """Fetches the URLs and reads the feed files of one ingest into JSON lines files under `settings.fetched`."""

    def __init__(self, settings: Settings, fetcher: Fetcher | None = None) -> None:
        self.settings = settings
        self.folder = settings.fetched
        self._fetcher = fetcher

    @property
    def fetcher(self) -> Fetcher:
        if self._fetcher is None:  # made on first use: a run over local feed files opens no client
            self._fetcher = Fetcher(self.settings)
        return self._fetcher

    def collect(self, urls: Iterable[str], feeds: Iterable[Path]) -> Collected:
        collected = Collected()
        try:
            for feed_file in feeds:
                self._local_feed(feed_file, collected)
            for url in urls:
                self._url(url, collected)
        finally:
            if self._fetcher is not None:
                collected.fetched = self._fetcher.fetched
                self._fetcher.close()
                self._fetcher = None
        return collected

    # --- sources ---------------------------------------------------------------------------------

    def _local_feed(self, path: Path, collected: Collected) -> None:
        resolved = path.resolve()
        limit = int(self.settings.max_file_mb * 1_000_000)
        # Read as bytes, not through the text checks of article files: feedparser reads the encoding the feed
        # declares (ISO-8859-1 feeds are common), which those checks would refuse as not UTF-8.
        try:
            size = resolved.stat().st_size
            if size > limit:
                raise DocumentError(str(path), f"is {size / 1e6:.1f} MB, over the QA_MAX_FILE_MB limit")
            data = resolved.read_bytes()
        except DocumentError as exc:
            collected.failed.append(FailedFile(path=str(path), error=exc.reason))
            return
        except OSError as exc:
            collected.failed.append(FailedFile(path=str(path), error=f"cannot be read ({exc.strerror or exc})"))
            return
        feed = parse_feed(data)
        if feed is None:
            collected.failed.append(FailedFile(path=str(path), error="is not an RSS or Atom feed feedparser can read"))
            return
        # A local feed stays offline: entries are indexed with the text the file holds, and no link is fetched.
        target = self.folder / "local" / f"{_digest(str(resolved))}.jsonl"
        self._feed(feed, target, collected, fetch_links=False, where=str(path))

    def _url(self, url: str, collected: Collected) -> None:
        try:
            document = self.fetcher.get(url, PAGE_TYPES + FEED_TYPES)
        except FetchError as exc:
            collected.failed.append(FailedFile(path=url, error=exc.reason))
            return
        target = self.folder / _host_folder(url) / f"{_digest(url)}.jsonl"
        maybe_feed = document.content_type in FEED_TYPES or looks_like_xml(document.body)
        feed = parse_feed(document.body) if maybe_feed else None
        if feed is not None:
            self._feed(feed, target, collected, fetch_links=True, where=url)
            return
        if document.content_type not in PAGE_TYPES:
            collected.failed.append(FailedFile(path=url, error="is XML but not an RSS or Atom feed feedparser reads"))
            return
        try:
            record = _page_record(url, document)
        except DocumentError as exc:
            collected.failed.append(FailedFile(path=url, error=exc.reason))
            return
        _write(target, [record])
        collected.files.append(target)

    def _feed(self, feed: Feed, target: Path, collected: Collected, *, fetch_links: bool, where: str) -> None:
        stored = _read(target)
        records = dict(stored)
        for entry in feed.entries:
            known = stored.get(entry.key)
            if known is not None and known.get("entry") == entry.stamp:
                continue  # the feed says what it said last time: nothing to fetch again
            if entry.full or not entry.link or not fetch_links:
                if not entry.text:
                    collected.failed.append(
                        FailedFile(path=entry.link or where, error="the feed entry has no text and no link to fetch")
                    )
                    continue
                records[entry.key] = _entry_record(entry, where)
                continue
            try:
                page = self.fetcher.get(entry.link, PAGE_TYPES)
                records[entry.key] = _entry_record(entry, where, _page_record(entry.link, page))
            except (FetchError, DocumentError) as exc:
                reason = exc.reason
                collected.failed.append(FailedFile(path=entry.link, error=reason))
        if not records:
            return  # an empty feed (or one whose every entry failed) is nothing to ingest, not an empty file
        if records != stored or not target.exists():
            _write(target, list(records.values()))
        collected.files.append(target)


# --- records ---------------------------------------------------------------------------------------


def _page_record(url: str, document: Fetched) -> dict[str, Any]:
    """A fetched page's article, read as a saved page is (trafilatura, else our rules); its source is its URL."""
    from qa.ingest.html import read_page

    html = _decoded(document)
    page = read_page(document.url, html)
    if not page.body.strip():
        raise DocumentError(url, "the page has no article text (a page of links, or one that needs JavaScript)")
    return {
        "id": url,
        "url": document.url,
        "title": page.title or url,
        "date": page.date,
        "text": page.body,
        "author": page.author,
        "site": page.site,
    }


def _decoded(document: Fetched) -> str:
    """The page's text: by the charset its headers name, else UTF-8, else what its own <meta charset> says."""
    if document.charset:
        try:
            return document.body.decode(document.charset, "replace")
        except LookupError:  # a charset Python does not know: guessed below
            pass
    try:
        return document.body.decode("utf-8")
    except UnicodeDecodeError:
        from bs4 import UnicodeDammit

        return str(UnicodeDammit(document.body, is_html=True).unicode_markup or "")


def _entry_record(entry: Entry, feed: str, page: dict[str, Any] | None = None) -> dict[str, Any]:
    """The feed's word on title, date, link and author wins over the page's: it is the publisher's metadata."""
    record = dict(page or {})
    record.update(
        {
            "id": entry.key,
            "url": entry.link or feed,
            "title": entry.title or record.get("title") or entry.link,
            "date": entry.date or record.get("date"),
            "text": record.get("text") or entry.text,
            "author": entry.author or record.get("author") or "",
            "site": record.get("site") or "",
            "feed": feed,
            "entry": entry.stamp,
        }
    )
    return record


def _read(target: Path) -> dict[str, dict[str, Any]]:
    """The records kept for one feed, by key, in their order; a missing or damaged file is nothing kept."""
    records: dict[str, dict[str, Any]] = {}
    try:
        lines = target.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return records
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            records[record["id"]] = record
    return records


def _write(target: Path, records: list[dict[str, Any]]) -> None:
    """Written whole, then moved into place: an ingest never reads half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    if target.exists() and target.read_text(encoding="utf-8") == text:
        return  # the same bytes: the file keeps its hash and its articles read as unchanged
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=target.parent, delete=False, prefix=".incoming-"
    ) as spool:
        spool.write(text)
    os.replace(spool.name, target)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:_DIGEST_CHARS]


def _host_folder(url: str) -> str:
    """The URL's host and port as a folder name: readable, and never a path of its own ('..', slashes)."""
    parts = urlsplit(url)
    name = f"{parts.hostname or 'host'}" + (f"-{parts.port}" if parts.port else "")
    return re.sub(r"[^A-Za-z0-9.-]", "_", name).strip(".") or "host"
