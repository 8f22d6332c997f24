"""Articles from files: plain text, Markdown, HTML and JSON lines, with title, date and source.

A file is checked before it is parsed (empty, binary, not text, too large, also once decompressed: qa/ingest/reading.py)
so that one bad file becomes one line in the ingest summary instead of a failed batch. What a file says about
itself is bounded: YAML aliases are refused (a few hundred bytes of them expand to gigabytes), and titles, sources
and dates longer than the caps below are cut or dropped.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import yaml

from qa.errors import DocumentError
from qa.ingest.reading import decode, suffix_of
from qa.text.dates import parse_date
from qa.text.normalise import clean_text, is_blank

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".jsonl", ".ndjson", ".jsonl.gz")
_TITLE_MAX_CHARS = 200  # a first line longer than this is not taken for the title

# Caps on what one article may claim about itself (README, "Articles").
MAX_TITLE_CHARS = 300  # a longer title is cut at a word, ending with "..."
MAX_SOURCE_CHARS = 2048  # a longer source or URL is replaced by the file's path (and line)
MAX_DATE_CHARS = 64  # a longer date value is not read: the article is undated
MAX_KEY_CHARS = 512  # a longer record id is replaced by its hash
MAX_LINE_BYTES = 10_000_000  # a longer JSON line is reported and skipped, without being held in memory
MAX_JSON_DIGITS = 4300  # Python's own limit on int conversion; a longer number is reported


@dataclass(frozen=True)
class Article:
    """One news article. Chunk offsets point into `text` (the body, without header and title)."""

    doc_id: str
    file: str
    key: str
    source: str
    title: str
    date: str | None
    text: str
    # Read from an HTML page: its author and site name, and what found its body ("trafilatura" or "rules").
    author: str = ""
    site: str = ""
    extractor: str = ""

    @property
    def content_hash(self) -> str:
        return _hash(self.title, self.date or "", self.source, self.text)


def _hash(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def make_article(file: str, key: str, source: str, title: str, date: str | None, text: str) -> Article:
    """Build an article whose id is stable across runs: same file, same place in it, same content.

    Title and body are normalised here, for every format (`clean_text`: NFKC, invisible characters removed), so
    that every later check reads what a person reads.
    """
    title, text = clean_text(title), clean_text(text)
    content = _hash(title, date or "", source, text)
    doc_id = _hash(file, key, content)[:16]
    return Article(doc_id=doc_id, file=file, key=key, source=source, title=title, date=date, text=text)


def _article(file: str, key: str, source: str, title: str, date: str | None, text: str, *, where: str) -> Article:
    """`make_article` with the caps applied; text that is not text (a lone surrogate) raises DocumentError."""
    for name, value in (("title", title), ("source", source), ("id", key), ("text", text)):
        _check_text(where, name, value)
    title = clean_text(title)  # normalised before it is measured: NFKC can lengthen a title
    if is_blank(title):
        title = _fallback_title(file)
    if len(title) > MAX_TITLE_CHARS:
        title = _cut(title, MAX_TITLE_CHARS)
    if len(source) > MAX_SOURCE_CHARS:
        source = where
    if len(key) > MAX_KEY_CHARS:
        key = "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()
    return make_article(file, key, source, title, date, text)


def _check_text(where: str, field: str, value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        # A JSON "\ud800" escape or a YAML one decodes to half of a character pair: no text holds it, and it
        # cannot be stored or embedded.
        raise DocumentError(
            where,
            f"its {field} holds a lone surrogate (\\u{ord(value[exc.start]):04x} at character {exc.start}), which "
            "is not text; fix the encoding of the file (write it out again as UTF-8)",
        ) from None


def _cut(text: str, limit: int) -> str:
    """`text` cut to `limit` characters at a word boundary when one is near, ending with "..." (what NFKC makes of
    "…": stored text is normalised)."""
    cut = text[: limit - 3]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "..."


def _date(value: object) -> str | None:
    if isinstance(value, str) and len(value) > MAX_DATE_CHARS:
        return None
    return parse_date(value)


def is_supported(path: Path) -> bool:
    return suffix_of(path) in SUPPORTED_SUFFIXES


def parse(path: Path, data: bytes) -> Iterator[Article | DocumentError]:
    """Yield the article of a one-article file (text, Markdown, HTML); JSON lines files are read by `ArticleStream`."""
    file = str(path)
    if is_jsonl(path):
        raise ValueError(f"{file}: JSON lines files are read line by line by ArticleStream, not parsed whole")
    text = decode(path, data)
    suffix = suffix_of(path)
    if suffix in (".html", ".htm"):
        article = _parse_html(file, text)
    elif suffix in (".md", ".markdown"):
        article = _parse_markdown(file, text)
    else:
        article = _parse_text(file, text)
    if is_blank(article.text):
        raise DocumentError(file, "has no visible text (only white space or invisible characters)")
    if article.text.strip() == article.title.strip():
        raise DocumentError(file, "has a title but no body text")
    yield article


# --- plain text -------------------------------------------------------------------------------

# ` date 2024-01-04 This article was last updated on January 4, 2024` (the seed format).
_DATE_HEADER = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\b.*$", re.IGNORECASE)
# `Title: …`, `Date: …`, `Source: …` / `URL: …` lines at the very top, ended by a blank line.
_FIELD_HEADER = re.compile(r"^\s*(title|date|source|url|published)\s*:\s*(.+?)\s*$", re.IGNORECASE)


def _fallback_title(file: str) -> str:
    stem = Path(file).name.split(".")[0]
    return re.sub(r"[_-]+", " ", stem).strip() or "Untitled"


def _split_title(file: str, body: str) -> tuple[str, str]:
    """Take the first line as the title when it looks like one (short, one line)."""
    stripped = body.lstrip("\n")
    first, _, rest = stripped.partition("\n")
    # A rule ("---", "***") or a line of invisible characters is not a title.
    if any(c.isalnum() for c in first) and len(first.strip()) <= _TITLE_MAX_CHARS and rest.strip():
        return first.strip(), rest.lstrip("\n").rstrip()
    return _fallback_title(file), stripped.rstrip()


def _parse_text(file: str, text: str) -> Article:
    lines = text.split("\n")
    fields: dict[str, str] = {}
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    if start < len(lines) and (match := _DATE_HEADER.match(lines[start])):
        fields["date"] = match[1]
        start += 1
    else:
        probe = start
        while probe < len(lines) and (match := _FIELD_HEADER.match(lines[probe])):
            fields[match[1].lower()] = match[2]
            probe += 1
        if fields and (probe == len(lines) or not lines[probe].strip()):
            start = probe
        else:
            fields = {}
    body = "\n".join(lines[start:])
    if "title" in fields:
        title, body = fields["title"], body.strip("\n").rstrip()
    else:
        title, body = _split_title(file, body)
    date = _date(fields.get("date") or fields.get("published"))
    source = fields.get("url") or fields.get("source") or file
    return _article(file, "", source, title, date, body, where=file)


# --- Markdown ---------------------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?:(.*?)\n)?---[ \t]*(?:\n|\Z)", re.DOTALL)
_OPENS_FRONT_MATTER = re.compile(r"\A---[ \t]*\n")
_LOOKS_LIKE_A_DAY = re.compile(r"\s*\d{4}-\d{1,2}-\d{1,2}\b")


class _AliasRefused(Exception):
    pass


class _FrontMatterLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases, and with dates left as text.

    Aliases are how a few hundred bytes expand to gigabytes ("billion laughs"); front matter has no use for them.
    Dates stay strings so that `date: 2024-02-30` is reported by `_parse_markdown` instead of raising in PyYAML.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise _AliasRefused
        return super().compose_node(parent, index)


_FrontMatterLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(cast(yaml.ScalarNode, node))
)


def _front_matter(file: str, source: str) -> dict[str, object]:
    try:
        loaded = yaml.load(source, Loader=_FrontMatterLoader)  # a SafeLoader subclass: safe
    except _AliasRefused:
        raise DocumentError(
            file,
            "front matter uses a YAML alias (*name); aliases are refused, since a few of them can expand to "
            "gigabytes: write the value out",
        ) from None
    except RecursionError:
        raise DocumentError(file, "front matter is nested too deeply to read; keep it to `key: value` lines") from None
    except yaml.YAMLError as exc:
        raise DocumentError(file, f"front matter is not valid YAML ({exc}); fix or remove it") from None
    return {str(k).lower(): v for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def _parse_markdown(file: str, text: str) -> Article:
    meta: dict[str, object] = {}
    if match := _FRONT_MATTER.match(text):
        meta = _front_matter(file, match[1] or "")
        text = text[match.end() :]
    elif _OPENS_FRONT_MATTER.match(text):
        raise DocumentError(
            file, "front matter opened by --- on the first line is never closed; end it with a line of ---"
        )
    body = text.strip("\n").rstrip()
    title = str(meta["title"]).strip() if meta.get("title") else ""
    if not title:
        first, _, rest = body.partition("\n")
        if first.startswith("#"):
            title, body = first.lstrip("#").strip(), rest.strip("\n").rstrip()
        else:
            title, body = _split_title(file, body)
    raw_date = meta.get("date") or meta.get("published")
    date = _date(raw_date)
    if date is None and isinstance(raw_date, str) and _LOOKS_LIKE_A_DAY.match(raw_date):
        raise DocumentError(file, f"front matter date {raw_date!r} is not a day of the calendar; fix it (YYYY-MM-DD)")
    source = str(meta.get("url") or meta.get("source") or file)
    return _article(file, "", source, title, date, body, where=file)


# --- HTML -------------------------------------------------------------------------------------


def _parse_html(file: str, text: str) -> Article:
    from qa.ingest.html import read_page  # imported here: only HTML ingest pays for its libraries

    page = read_page(file, text)
    article = _article(
        file, "", page.source, page.title or _fallback_title(file), _date(page.date), page.body, where=file
    )
    author, site = (
        clean_text(v) if len(v) <= MAX_TITLE_CHARS else _cut(v, MAX_TITLE_CHARS) for v in (page.author, page.site)
    )
    return replace(article, author=author, site=site, extractor=page.extractor)


# --- JSON lines -------------------------------------------------------------------------------


class _LongNumber(ValueError):
    def __init__(self, digits: int) -> None:
        super().__init__(digits)
        self.digits = digits


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_JSON_DIGITS:
        raise _LongNumber(digits)
    return int(text)


def long_line(file: str, number: int) -> DocumentError:
    return DocumentError(
        f"{file}:{number}",
        f"the line is longer than {MAX_LINE_BYTES / 1e6:g} MB; put one article of at most that size on each line",
        line=number,
    )


def jsonl_article(file: str, number: int, line: str) -> Article | DocumentError:
    where = f"{file}:{number}"
    try:
        record = json.loads(line, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        return DocumentError(where, f"not valid JSON ({exc.msg}); one JSON object per line", line=number)
    except _LongNumber as exc:
        return DocumentError(
            where,
            f"holds a number of {exc.digits:,} digits, more than the {MAX_JSON_DIGITS:,} that can be read; "
            "write it as a string, or drop it",
            line=number,
        )
    except RecursionError:
        return DocumentError(
            where,
            "is nested too deeply to read (arrays or objects inside each other thousands of times); "
            "each line must be one JSON object with 'text'",
            line=number,
        )
    if not isinstance(record, dict):
        return DocumentError(where, "not a JSON object; each line must be an object with 'text'", line=number)
    body = record.get("text")
    if not isinstance(body, str) or not body.strip():
        return DocumentError(where, "missing field 'text' (the article body)", line=number)
    if is_blank(body):
        return DocumentError(
            where, "field 'text' has no visible characters (only white space or invisible ones)", line=number
        )
    body = body.replace("\r\n", "\n").strip()
    title = str(record.get("title") or "").strip()
    if not title:
        title, body = _split_title(file, body)
    url = record.get("url") or record.get("source")
    date = _date(record.get("date") or record.get("publish_date") or record.get("published"))
    key = str(record.get("id") or url or f"line {number}")
    try:
        article = _article(file, key, str(url or where), title, date, body, where=where)
    except DocumentError as exc:
        return DocumentError(where, exc.reason, line=number)
    # Kept in the catalog like a saved page's: fetched pages and feed entries carry them (qa/ingest/web.py).
    author, site = (_byline(record.get(name)) for name in ("author", "site"))
    return replace(article, author=author, site=site) if author or site else article


def _byline(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        return ""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return ""
    return clean_text(value) if len(value) <= MAX_TITLE_CHARS else _cut(clean_text(value), MAX_TITLE_CHARS)


def is_jsonl(path: Path) -> bool:
    return suffix_of(path) in (".jsonl", ".ndjson", ".jsonl.gz")
