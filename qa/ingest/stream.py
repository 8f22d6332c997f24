"""The articles of one file, one at a time, in bounded memory: what ingest reads every file through."""

from __future__ import annotations

import codecs
import hashlib
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from qa.errors import DocumentError
from qa.ingest.documents import MAX_LINE_BYTES, Article, is_jsonl, jsonl_article, long_line, parse
from qa.ingest.reading import BadEncoding, file_hash, open_content, read_bytes, skip_line, too_big

CHANGED_WHILE_READ = "changed while it was being read; run the ingest again"


class ArticleStream:
    """The articles of one file, one at a time: a JSON lines file is read line by line, never whole.

    `bytes_read` is how far into the file (on disk, compressed for .jsonl.gz) reading has got, for progress.
    Check the file with `scan` first: this reports problems per record only. Once the stream is read to the end,
    `digest` is the hash of what was read, as `scan` computes it: a file rewritten between the scan and the end of
    the read (its articles then mix two versions) shows as a digest that differs from the scan's.
    """

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.bytes_read = 0
        self.digest: str | None = None

    def __iter__(self) -> Iterator[Article | DocumentError]:
        if not is_jsonl(self.path):
            data = read_bytes(self.path, self.max_bytes)
            yield from parse(self.path, data)
            self.bytes_read = self.path.stat().st_size
            self.digest = file_hash(data)
            return
        file = str(self.path)
        number = 0
        read = 0  # bytes of content: the limit holds for what a .gz inflates to as well
        digest = hashlib.sha256()
        try:
            stream, raw = open_content(self.path)
            with raw, stream:
                while data := stream.readline(MAX_LINE_BYTES + 1):
                    digest.update(data)
                    long = len(data) > MAX_LINE_BYTES
                    read += len(data) + (skip_line(stream, digest) if long else 0)
                    if read > self.max_bytes:
                        raise too_big(self.path, self.max_bytes)
                    if long:
                        number += 1
                        self.bytes_read = raw.tell()
                        yield long_line(file, number)
                        continue
                    if number == 0 and data.startswith(codecs.BOM_UTF8):
                        data = data[len(codecs.BOM_UTF8) :]
                    # Numbered as `decode` + `split("\n")` number them: \r\n is one break, a lone \r another.
                    text = data.decode("utf-8").removesuffix("\n").removesuffix("\r")
                    for line in text.split("\r"):
                        number += 1
                        if line.strip():
                            self.bytes_read = raw.tell()
                            yield jsonl_article(file, number, line)
        except (OSError, EOFError, zlib.error, UnicodeDecodeError, BadEncoding) as exc:
            raise DocumentError(file, f"changed or broke while being read ({exc}); run the ingest again") from None
        self.bytes_read = self.path.stat().st_size
        self.digest = digest.hexdigest()


def guarded(items: Iterable[Article | DocumentError], file: str) -> Iterator[Article | DocumentError]:
    """The items of one file; an exception the reader did not expect ends the file with an error, not the run."""
    iterator = iter(items)
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except DocumentError:
            raise
        except Exception as exc:
            raise DocumentError(file, unexpected(exc)) from exc
        yield item


def unexpected(exc: Exception) -> str:
    return (
        f"could not be read ({type(exc).__name__}: {str(exc)[:300]}); the file was skipped: check that it is a "
        "well-formed article file, and report it if it is"
    )
