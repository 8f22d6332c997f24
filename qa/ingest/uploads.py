"""Articles uploaded through the web UI: checked, then kept beside the index under a name of their own.

Only a file that really arrived through the upload is read: it must lie, once every symlink is resolved, inside
the folder the web server stores uploads in (`received_in`). A path naming any other file on the server (a
request can carry one) is refused and logged, never opened.

An upload is copied into `Settings.uploads` as `<first 16 hex digits of its SHA-256>/<its name>` before it is
ingested: its source is then a stable path (not a temporary file the browser upload left behind), two uploads
of the same name with different content are two articles, and the same content uploaded again is the same path
and so is recognised as unchanged.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from pydantic import BaseModel, Field

from qa.errors import QAError
from qa.ingest.report import IngestReport
from qa.settings import Settings

log = logging.getLogger(__name__)
DIGEST_CHARS = 16  # 64 bits of SHA-256: a collision between two uploads is not a practical worry
_CHUNK = 1 << 20
NAME_MAX_BYTES = 200  # room for the digest folder and the file system's 255-byte limit on a name


@dataclass(frozen=True)
class Upload:
    """An uploaded file: where it was kept, or why it was refused (`refused` when it was not an upload)."""

    name: str
    path: Path | None
    error: str | None = None
    refused: bool = False


class UploadResult(BaseModel):
    """What became of one uploaded file: the UI's row in the upload results, and the HTTP API's item."""

    file: str = Field(description="The file's name as uploaded (no folder).")
    result: Literal["added", "updated", "skipped", "refused", "failed"]
    detail: str = Field(description="Articles and chunks written, or why the file was skipped or not taken.")


def check_upload(name: str, size: int, settings: Settings) -> str | None:
    """Why an upload is refused (name, type, size, emptiness), with what to do; None when it is accepted."""
    # A browser sends a plain name, but any HTTP client can send a name that no file can have (a NUL byte, a
    # lone surrogate, a control character, 300 bytes): refused here rather than failing deep in os.open.
    try:
        unusable = len(name.encode("utf-8")) > NAME_MAX_BYTES or any(ord(c) < 32 or c == "\x7f" for c in name)
    except UnicodeEncodeError:
        unusable = True
    if unusable or name in ("", ".", ".."):
        return f"{name[:80]!r}: not a usable file name; rename the file (plain text, under {NAME_MAX_BYTES} bytes)"
    lowered = name.lower()
    if not any(lowered.endswith(kind) for kind in settings.upload_types):
        kinds = ", ".join(settings.upload_types)
        return f"{name}: {Path(name).suffix or 'no file type'} is not accepted; upload one of {kinds}"
    limit = settings.upload_max_mb * 1024 * 1024
    if size > limit:
        return (
            f"{name}: {size / 1024 / 1024:.1f} MB is over the {settings.upload_max_mb:g} MB upload limit; split it, "
            "or ingest it with `qa ingest PATH` (or raise QA_UPLOAD_MAX_MB)"
        )
    if size == 0:
        return f"{name}: the file is empty; upload an article with text in it"
    return None


def received_path(path: str | Path, received_in: Path) -> Path | None:
    """The real file behind `path` when it lies inside `received_in` (symlinks resolved on both); else None."""
    try:
        real = Path(path).resolve(strict=True)
        folder = Path(received_in).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a symlink loop
        return None
    return real if real.is_relative_to(folder) else None


def _gone_from(path: str | Path, folder: Path) -> bool:
    """A name in the upload folder with no file behind it (cleaned up since). Only said of that folder: for any
    other path "missing" and "refused" would tell a caller which server files exist."""
    spelled = Path(os.path.abspath(path))
    return spelled.is_relative_to(os.path.abspath(folder)) and not os.path.lexists(spelled)


def keep_upload(path: str | Path, settings: Settings, name: str | None = None, *, received_in: Path) -> Upload:
    """Check an uploaded file and copy it into the uploads folder; the result says where, or why not.

    `received_in` is where the web server put the files it received; a path outside it is refused.
    """
    name = Path(name or Path(path).name).name  # never a path from the browser: only the bare file name
    real = received_path(path, received_in)
    if real is None and _gone_from(path, received_in):
        return Upload(name, None, f"{name}: the upload is no longer on the server; upload it again")
    if real is None:
        log.warning("refused an upload naming %s: it is not a file in the upload folder %s", path, received_in)
        return Upload(
            name,
            None,
            f"{name}: refused: only files uploaded through this page are read, and this one is not in the "
            "upload folder; choose the file in the Articles box and upload it",
            refused=True,
        )
    try:
        # O_NOFOLLOW: the file checked above is the file read, even if the name is swapped for a link meanwhile.
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        return Upload(name, None, f"{name}: the upload could not be read ({exc.strerror}); upload it again")
    with os.fdopen(fd, "rb") as source:
        info = os.fstat(source.fileno())
        if not stat.S_ISREG(info.st_mode):
            return Upload(name, None, f"{name}: not a regular file; upload an article file")
        problem = check_upload(name, info.st_size, settings)
        if problem:
            return Upload(name, None, problem)
        return Upload(name, _store(source, name, settings))


def _store(source: BinaryIO, name: str, settings: Settings) -> Path:
    """Copy `source` into `<uploads>/<digest>/<name>`; a copy already there has the same content by its name."""
    folder = settings.uploads
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".incoming-", delete=False) as spool:
        try:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                spool.write(chunk)
        except BaseException:
            os.unlink(spool.name)
            raise
    target = folder / digest.hexdigest()[:DIGEST_CHARS] / name
    if target.is_file():
        os.unlink(spool.name)  # the same bytes are kept already: same path, so ingest reports it unchanged
        return target
    target.parent.mkdir(exist_ok=True)
    os.replace(spool.name, target)
    return target


def ingest_upload(kept: Upload, ingest: Callable[[Path], IngestReport]) -> UploadResult:
    """Ingest a kept upload with `ingest` (the caller's Assistant.ingest of one path); what became of it."""
    if kept.path is None:
        return UploadResult(file=kept.name, result="refused" if kept.refused else "failed", detail=kept.error or "")
    try:
        report = ingest(kept.path)
    except QAError as exc:
        return UploadResult(file=kept.name, result="failed", detail=str(exc))
    problems = "; ".join(f.error for f in report.failed)
    if report.added or report.updated:
        # A JSON lines file with some bad lines: its good records are in, and the result says which lines were not.
        detail = f"{report.added + report.updated} article(s), {report.chunks} chunks"
        result: Literal["added", "updated"] = "added" if report.added else "updated"
        return UploadResult(
            file=kept.name, result=result, detail=f"{detail}; not indexed: {problems}" if problems else detail
        )
    if report.failed:
        return UploadResult(file=kept.name, result="failed", detail=problems)
    if report.unchanged:
        return UploadResult(file=kept.name, result="skipped", detail="unchanged: already indexed with the same content")
    return UploadResult(file=kept.name, result="skipped", detail="no articles found in the file")


def upload_summary(results: Sequence[UploadResult]) -> str:
    """One line for a batch of uploads: "3 file(s): added 2 · failed 1."."""
    counts = {
        kind: sum(1 for r in results if r.result == kind)
        for kind in ("added", "updated", "skipped", "refused", "failed")
    }
    return f"{len(results)} file(s): " + " · ".join(f"{kind} {n}" for kind, n in counts.items() if n) + "."
