"""Articles from files: plain text, Markdown, HTML and JSON lines, with title, date and source.

A file is checked before it is parsed (empty, binary, not UTF-8, too large) so that one bad file
becomes one line in the ingest summary instead of a failed batch.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

import yaml

from qa.dates import parse_date
from qa.errors import DocumentError
from qa.normalise import clean_text

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".jsonl", ".ndjson", ".jsonl.gz")
_TITLE_MAX_CHARS = 200


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


def suffix_of(path: Path) -> str:
    name = path.name.lower()
    return ".jsonl.gz" if name.endswith(".jsonl.gz") else path.suffix.lower()


def is_supported(path: Path) -> bool:
    return suffix_of(path) in SUPPORTED_SUFFIXES


def _check_size(path: Path, max_bytes: int) -> None:
    size = path.stat().st_size
    if size > max_bytes:
        raise DocumentError(
            str(path),
            f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit (split it, or raise QA_MAX_FILE_MB)",
        )


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """Read a file or raise DocumentError saying why it cannot be used."""
    try:
        _check_size(path, max_bytes)
        data = path.read_bytes()
    except PermissionError:
        raise DocumentError(str(path), "permission denied; make the file readable") from None
    except IsADirectoryError:
        raise DocumentError(str(path), "is a directory") from None
    except OSError as exc:
        raise DocumentError(str(path), f"cannot be read ({exc.strerror or exc})") from None
    if suffix_of(path) == ".jsonl.gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise DocumentError(str(path), f"is not a valid gzip file ({exc})") from None
    if not data.strip():
        raise DocumentError(str(path), "file is empty")
    return data


def decode(path: Path, data: bytes) -> str:
    if b"\0" in data[:8192]:
        raise DocumentError(str(path), "looks binary (contains NUL bytes); only text articles are supported")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            str(path),
            f"is not UTF-8 (bad byte at offset {exc.start}); convert it, e.g. iconv -f latin1 -t utf-8",
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse(path: Path, data: bytes) -> Iterator[Article | DocumentError]:
    """Yield the articles of one file; a bad record inside a JSON lines file is yielded as an error."""
    text = decode(path, data)
    file = str(path)
    suffix = suffix_of(path)
    if suffix in (".jsonl", ".ndjson", ".jsonl.gz"):
        yield from _parse_jsonl(file, text)
        return
    if suffix in (".html", ".htm"):
        article = _parse_html(file, text)
    elif suffix in (".md", ".markdown"):
        article = _parse_markdown(file, text)
    else:
        article = _parse_text(file, text)
    if not article.text.strip():
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
    if first.strip() and len(first.strip()) <= _TITLE_MAX_CHARS and rest.strip():
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
    date = parse_date(fields.get("date") or fields.get("published"))
    source = fields.get("url") or fields.get("source") or file
    return make_article(file, "", source, title, date, body)


# --- Markdown ---------------------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)


def _parse_markdown(file: str, text: str) -> Article:
    meta: dict[str, object] = {}
    if match := _FRONT_MATTER.match(text):
        try:
            loaded = yaml.safe_load(match[1])
        except yaml.YAMLError as exc:
            raise DocumentError(file, f"front matter is not valid YAML ({exc}); fix or remove it") from None
        if isinstance(loaded, dict):
            meta = {str(k).lower(): v for k, v in loaded.items()}
        text = text[match.end() :]
    body = text.strip("\n").rstrip()
    title = str(meta["title"]).strip() if meta.get("title") else ""
    if not title:
        first, _, rest = body.partition("\n")
        if first.startswith("#"):
            title, body = first.lstrip("#").strip(), rest.strip("\n").rstrip()
        else:
            title, body = _split_title(file, body)
    date = parse_date(meta.get("date") or meta.get("published"))
    source = str(meta.get("url") or meta.get("source") or file)
    return make_article(file, "", source, title, date, body)


# --- HTML -------------------------------------------------------------------------------------

_DATE_META = ("article:published_time", "datepublished", "pubdate", "publishdate", "date", "dc.date")
_BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "blockquote", "pre")


def _parse_html(file: str, text: str) -> Article:
    from bs4 import BeautifulSoup  # imported here: only HTML ingest pays for it

    from qa.hidden_text import drop_hidden

    soup = BeautifulSoup(text, "html.parser")
    drop_hidden(soup)  # text a reader never sees (display:none, white letters, …) is no part of the article
    for tag in soup(["script", "style", "noscript", "nav", "footer", "aside", "form", "template"]):
        tag.decompose()

    def meta(*names: str) -> str | None:
        for name in names:
            tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
            if tag and tag.get("content"):
                return str(tag["content"])
        return None

    h1 = soup.find("h1")
    title = meta("og:title") or (h1.get_text(" ", strip=True) if h1 else "")
    if not title and soup.title:
        title = soup.title.get_text(" ", strip=True)
    time_tag = soup.find("time", attrs={"datetime": True})
    date = parse_date(meta(*_DATE_META) or (time_tag["datetime"] if time_tag else None))
    canonical = soup.find("link", attrs={"rel": "canonical"})
    source = meta("og:url") or (str(canonical["href"]) if canonical and canonical.get("href") else file)

    root = soup.find("article") or soup.body or soup
    blocks = []
    for tag in root.find_all(_BLOCKS):
        if tag.find_parent(_BLOCKS):
            continue  # nested block: its text is already in the parent's
        words = tag.get_text(" ", strip=True)
        if words and words != title:
            blocks.append(words)
    body = "\n\n".join(blocks) if blocks else root.get_text("\n", strip=True)
    return make_article(file, "", source, title or _fallback_title(file), date, body)


# --- JSON lines -------------------------------------------------------------------------------


def _parse_jsonl(file: str, text: str) -> Iterator[Article | DocumentError]:
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            yield _jsonl_article(file, number, line)


def _jsonl_article(file: str, number: int, line: str) -> Article | DocumentError:
    where = f"{file}:{number}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return DocumentError(where, f"not valid JSON ({exc.msg}); one JSON object per line")
    if not isinstance(record, dict):
        return DocumentError(where, "not a JSON object; each line must be an object with 'text'")
    body = record.get("text")
    if not isinstance(body, str) or not body.strip():
        return DocumentError(where, "missing field 'text' (the article body)")
    body = body.replace("\r\n", "\n").strip()
    title = str(record.get("title") or "").strip()
    if not title:
        title, body = _split_title(file, body)
    url = record.get("url") or record.get("source")
    date = parse_date(record.get("date") or record.get("publish_date") or record.get("published"))
    key = str(record.get("id") or url or f"line {number}")
    return make_article(file, key, str(url or where), title, date, body)


# --- streaming: big files in bounded memory ---------------------------------------------------

_BLOCK = 1 << 20


def is_jsonl(path: Path) -> bool:
    return suffix_of(path) in (".jsonl", ".ndjson", ".jsonl.gz")


def _open(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """The file's content as a binary stream (decompressed for .jsonl.gz), and the file itself (its position)."""
    raw = path.open("rb")
    if suffix_of(path) == ".jsonl.gz":
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb")), raw
    return raw, raw


def scan(path: Path, max_bytes: int) -> str:
    """Check a file the way `read_bytes` and `decode` do, reading it block by block; return its content hash.

    The hash is `file_hash` of what `read_bytes` returns (the decompressed content for .jsonl.gz), so an index
    built before streaming recognises its files as unchanged.
    """
    try:
        _check_size(path, max_bytes)
        digest = hashlib.sha256()
        checker = codecs.getincrementaldecoder("utf-8")()
        offset, head, content = 0, b"", False
        stream, raw = _open(path)
        with raw, stream:
            while block := stream.read(_BLOCK):
                if len(head) < 8192:
                    head += block[: 8192 - len(head)]
                    if b"\0" in head:
                        raise DocumentError(
                            str(path), "looks binary (contains NUL bytes); only text articles are supported"
                        )
                digest.update(block)
                content = content or bool(block.strip())
                try:
                    checker.decode(block)
                except UnicodeDecodeError as exc:
                    raise DocumentError(str(path), _not_utf8(offset + exc.start)) from None
                offset += len(block)
            try:
                checker.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                raise DocumentError(str(path), _not_utf8(offset + exc.start)) from None
    except PermissionError:
        raise DocumentError(str(path), "permission denied; make the file readable") from None
    except IsADirectoryError:
        raise DocumentError(str(path), "is a directory") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DocumentError(str(path), f"is not a valid gzip file ({exc})") from None
    except OSError as exc:
        raise DocumentError(str(path), f"cannot be read ({exc.strerror or exc})") from None
    if not content:
        raise DocumentError(str(path), "file is empty")
    return digest.hexdigest()


def _not_utf8(offset: int) -> str:
    return f"is not UTF-8 (bad byte at offset {offset}); convert it, e.g. iconv -f latin1 -t utf-8"


class ArticleStream:
    """The articles of one file, one at a time: a JSON lines file is read line by line, never whole.

    `bytes_read` is how far into the file (on disk, compressed for .jsonl.gz) reading has got, for progress.
    Check the file with `scan` first: this reports problems per record only.
    """

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.bytes_read = 0

    def __iter__(self) -> Iterator[Article | DocumentError]:
        if not is_jsonl(self.path):
            yield from parse(self.path, read_bytes(self.path, self.max_bytes))
            self.bytes_read = self.path.stat().st_size
            return
        file = str(self.path)
        number = 0
        try:
            stream, raw = _open(self.path)
            with raw, stream:
                for data in stream:
                    if number == 0 and data.startswith(codecs.BOM_UTF8):
                        data = data[len(codecs.BOM_UTF8) :]
                    # Numbered as `decode` + `split("\n")` number them: \r\n is one break, a lone \r another.
                    text = data.decode("utf-8").removesuffix("\n").removesuffix("\r")
                    for line in text.split("\r"):
                        number += 1
                        if line.strip():
                            self.bytes_read = raw.tell()
                            yield _jsonl_article(file, number, line)
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
            raise DocumentError(file, f"changed or broke while being read ({exc}); run the ingest again") from None
        self.bytes_read = self.path.stat().st_size
