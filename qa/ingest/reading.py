"""An article file's content as UTF-8 bytes, read within limits: the first step of every reader.

The size limit (QA_MAX_FILE_MB) holds for the file on disk and for what it becomes once read: a .jsonl.gz is
decompressed as it streams and stopped at the limit, never held whole. UTF-16 and UTF-32 files are recoded by their
byte order mark, so every reader after this one sees UTF-8. NUL bytes anywhere mean binary. Whatever reading
raises becomes a DocumentError that names the file and what to do.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, cast

from qa.errors import DocumentError


def suffix_of(path: Path) -> str:
    name = path.name.lower()
    return ".jsonl.gz" if name.endswith(".jsonl.gz") else path.suffix.lower()


def _check_size(path: Path, max_bytes: int) -> None:
    size = path.stat().st_size
    if size > max_bytes:
        raise DocumentError(
            str(path),
            f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit (split it, or raise QA_MAX_FILE_MB)",
        )


def too_big(path: Path, max_bytes: int) -> DocumentError:
    """The file is under the limit on disk, over it once read: decompressed, or UTF-16 text as UTF-8."""
    limit = f"{max_bytes / 1e6:g} MB"
    if suffix_of(path) == ".jsonl.gz":
        return DocumentError(str(path), f"decompresses to more than {limit} (split it, or raise QA_MAX_FILE_MB)")
    return DocumentError(str(path), f"is more than {limit} once read as UTF-8 text (split it, or raise QA_MAX_FILE_MB)")


class BadEncoding(ValueError):
    def __init__(self, codec: str, offset: int) -> None:
        super().__init__(f"is not valid {codec.upper()} (bad bytes at offset {offset}); save it as UTF-8")


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn what reading a file can raise into a DocumentError that says what to do."""
    try:
        yield
    except PermissionError:
        raise DocumentError(str(path), "permission denied; make the file readable") from None
    except IsADirectoryError:
        raise DocumentError(str(path), "is a directory") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DocumentError(str(path), f"is not a valid gzip file ({exc})") from None
    except BadEncoding as exc:
        raise DocumentError(str(path), str(exc)) from None
    except OSError as exc:
        raise DocumentError(str(path), f"cannot be read ({exc.strerror or exc})") from None


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE, whose mark it starts with
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_BINARY = "looks binary (contains NUL bytes); only text articles are supported"


def _bom_codec(head: bytes) -> str | None:
    """UTF-16 or UTF-32 when the content starts with its byte order mark (the codec reads the mark itself)."""
    return next((codec for bom, codec in _BOMS if head.startswith(bom)), None)


def decode(path: Path, data: bytes) -> str:
    """The text of a whole file's bytes, line breaks as \\n; DocumentError for binary or undecodable bytes."""
    codec = _bom_codec(data[:4])
    if codec is not None:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as exc:
            raise DocumentError(str(path), str(BadEncoding(codec, exc.start))) from None
        if "\0" in text:
            raise DocumentError(str(path), _BINARY)
        return text.replace("\r\n", "\n").replace("\r", "\n")
    if b"\0" in data:  # anywhere: a text head does not make the rest text
        raise DocumentError(str(path), _BINARY)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(str(path), _not_utf8(exc.start)) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


BLOCK = 1 << 20


class _Recoded(io.RawIOBase):
    """A UTF-16 or UTF-32 byte stream read as UTF-8 bytes, so every reader below sees UTF-8 only."""

    def __init__(self, inner: IO[bytes], codec: str) -> None:
        self.inner, self.codec = inner, codec
        self.decoder = codecs.getincrementaldecoder(codec)()
        self.pending, self.at, self.consumed, self.done = b"", 0, 0, False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self.at == len(self.pending) and not self.done:
            block = self.inner.read(BLOCK // 4)
            self.done = not block
            try:
                text = self.decoder.decode(block, final=self.done)
            except UnicodeDecodeError as exc:
                raise BadEncoding(self.codec, self.consumed + exc.start) from None
            self.consumed += len(block)
            self.pending, self.at = text.encode("utf-8"), 0
        count = min(len(buffer), len(self.pending) - self.at)
        buffer[:count] = self.pending[self.at : self.at + count]
        self.at += count
        return count

    def close(self) -> None:
        self.inner.close()
        super().close()


def open_content(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """The file's content as UTF-8 bytes (decompressed for .jsonl.gz, recoded from UTF-16/32), and the file itself
    (its position)."""
    raw = path.open("rb")
    try:
        stream = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb")) if suffix_of(path) == ".jsonl.gz" else raw
        codec = _bom_codec(cast(Any, stream).peek(4)[:4])
        if codec is not None:
            stream = cast(IO[bytes], io.BufferedReader(_Recoded(stream, codec), BLOCK))
    except BaseException:
        raw.close()
        raise
    return stream, raw


def checked_blocks(path: Path, max_bytes: int) -> Iterator[bytes]:
    """The file's content as UTF-8 bytes (decompressed, recoded), block by block, each block checked as it is read:
    the size limit, NUL bytes (binary), valid UTF-8; a file with nothing but white space is empty. The one file check:
    `scan` hashes these blocks, `read_bytes` joins them. Whatever is wrong raises a DocumentError naming the file."""
    with _reading(path):
        _check_size(path, max_bytes)
        checker = codecs.getincrementaldecoder("utf-8")()
        offset, content = 0, False
        stream, raw = open_content(path)
        with raw, stream:
            while block := stream.read(BLOCK):
                if offset + len(block) > max_bytes:
                    raise too_big(path, max_bytes)
                if b"\0" in block:  # in the whole file, not only its head
                    raise DocumentError(str(path), _BINARY)
                content = content or bool(block.strip())
                try:
                    checker.decode(block)
                except UnicodeDecodeError as exc:
                    raise DocumentError(str(path), _not_utf8(offset + exc.start)) from None
                offset += len(block)
                yield block
            try:
                checker.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                raise DocumentError(str(path), _not_utf8(offset + exc.start)) from None
    if not content:
        raise DocumentError(str(path), "file is empty")


def scan(path: Path, max_bytes: int) -> str:
    """Check a file without holding it (`checked_blocks`); return its content hash, `file_hash` of `read_bytes`."""
    digest = hashlib.sha256()
    for block in checked_blocks(path, max_bytes):
        digest.update(block)
    return digest.hexdigest()


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """A checked file's whole content (`checked_blocks`): decompressed, UTF-16/32 turned into UTF-8."""
    return b"".join(checked_blocks(path, max_bytes))


def _not_utf8(offset: int) -> str:
    return f"is not UTF-8 (bad byte at offset {offset}); convert it, e.g. iconv -f latin1 -t utf-8"


def skip_line(stream: IO[bytes], digest: Any = None) -> int:
    """Read past the rest of an over-long line without keeping it (but into `digest`, a hashlib hash, when
    given); the number of bytes skipped."""
    skipped = 0
    while piece := stream.readline(BLOCK):
        skipped += len(piece)
        if digest is not None:
            digest.update(piece)
        if piece.endswith(b"\n"):
            break
    return skipped
