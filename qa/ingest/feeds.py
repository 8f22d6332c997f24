"""RSS and Atom feeds read by feedparser: each entry's title, date, link, author and text, and whether that text is
the article or only a teaser whose linked page must be fetched. Pure: nothing here touches the network (feedparser
is only ever given bytes; given a string that looks like a URL it would fetch it).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from qa.ingest.fetch import url_problem
from qa.ingest.hidden_text import drop_hidden
from qa.ingest.html import BLOCKS

# An entry whose text has fewer words than this is a teaser ("Read more…"), and its link is fetched for the article;
# feeds that carry whole articles put hundreds of words in an entry, teasers one or two sentences.
MIN_BODY_WORDS = 80
_XML_HEADS = (b"<?xml", b"<rss", b"<feed", b"<rdf:rdf")


@dataclass(frozen=True)
class Entry:
    key: str  # what the entry is known by across runs: its id (guid), else its link
    link: str
    title: str
    date: str | None  # YYYY-MM-DD, published else updated
    author: str
    text: str  # the content's text, else the summary's
    full: bool  # `text` is the article, not a teaser
    stamp: str  # a hash of what the feed says of the entry: the same stamp next run means nothing to fetch again


@dataclass(frozen=True)
class Feed:
    title: str
    entries: list[Entry]


def looks_like_xml(data: bytes) -> bool:
    """A served document that may be a feed whatever its content type says (many sites serve feeds as text/html)."""
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(_XML_HEADS)


def parse_feed(data: bytes) -> Feed | None:
    """The feed in `data`, or None when it is not one (an HTML page, an XML file of another kind)."""
    import feedparser

    parsed = feedparser.parse(data)  # bytes, never a str: a str naming a URL would be fetched
    if not parsed.get("version") and not parsed.get("entries"):
        return None
    entries = [entry for n, raw in enumerate(parsed.entries, start=1) if (entry := _entry(raw, n)) is not None]
    return Feed(title=str(parsed.feed.get("title") or ""), entries=entries)


def _entry(raw: Any, number: int) -> Entry | None:
    link = str(raw.get("link") or "")
    if url_problem(link):
        link = ""  # feedparser takes a <guid> for the link unless told otherwise; "entry-7" is no address
    content = raw.get("content") or []
    html = str(content[0].get("value") or "") if content else ""
    text = fragment_text(html) if html else ""
    if not text:
        text = fragment_text(str(raw.get("summary") or ""))
    title = " ".join(fragment_text(str(raw.get("title") or "")).split())
    key = str(raw.get("id") or link or f"entry {number}: {title}")
    if not (text or link):
        return None
    date = _day(raw.get("published_parsed") or raw.get("updated_parsed"))
    author = str(raw.get("author") or "")
    said = json.dumps([key, link, title, date, author, text], ensure_ascii=False)
    stamp = hashlib.sha256(said.encode("utf-8")).hexdigest()[:16]
    return Entry(key, link, title, date, author, text, len(text.split()) >= MIN_BODY_WORDS, stamp)


def _day(parsed: time.struct_time | None) -> str | None:
    # feedparser has already read RFC 822, ISO 8601 and the other dates feeds use, into UTC.
    return None if parsed is None else f"{parsed.tm_year:04d}-{parsed.tm_mon:02d}-{parsed.tm_mday:02d}"


def fragment_text(html: str) -> str:
    """The readable text of an HTML fragment (an entry's content): its blocks a blank line apart, hidden text out."""
    if "<" not in html:
        return html.strip()
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    drop_hidden(soup)
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    blocks = []
    for tag in soup.find_all(BLOCKS):
        if tag.find_parent(BLOCKS):
            continue  # nested block: its text is already in the parent's
        words = tag.get_text(" ", strip=True)
        if words:
            blocks.append(words)
    return "\n\n".join(blocks) if blocks else soup.get_text(" ", strip=True)
