"""`qa compact`: give back the disk space that deletes and updates leave behind.

Chroma keeps it in three places, measured in issue 15: SQLite's free pages (a deleted record's pages stay in the
file until a VACUUM), the vector index's deleted slots (HNSW marks a deleted vector and never reuses or drops its
slot, so an index re-ingested twice holds every vector three times), and the vector index folders of dropped
collections (`qa ingest --rebuild` drops collections; Chroma 1.5 leaves their folders on disk). Compaction copies
each collection into a fresh one (records and vectors as they are: nothing is embedded again), swaps the copies in
(the old ones renamed aside first and dropped last, so a run killed half-way leaves the index whole), then, for a
local index, removes the folders no collection uses and VACUUMs the SQLite file. It runs when asked (`qa compact`,
`Assistant.compact()`), under the index's write lock; on a Chroma server it does the copy and swap, and the
server's own `chroma vacuum --path DIR` gives the SQLite pages back.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from qa.index.chroma import Reaching, open_client
from qa.index.layout import collection_names, vector_index_configuration
from qa.index.locking import WaitCallback, index_lock
from qa.settings import Settings

SCRATCH_SUFFIX = "-compact"
# A collection renamed aside while its copy takes its name. One suffix for every swap (repair, compaction,
# migration), so `qa doctor --repair` finishes whichever of them was killed half-way.
OLD_SUFFIX = "-old"
_PAGE = 2000
_SEGMENT_FOLDER = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class CompactReport(BaseModel):
    index: str
    bytes_before: int | None = None  # on disk, for a local index
    bytes_after: int | None = None
    records: int = 0  # chunks, catalog records and texts copied
    folders_removed: int = 0


def compact(settings: Settings, on_wait: WaitCallback | None = None) -> CompactReport:
    """Compact the index of `settings` in place (see the module's docstring)."""
    local = not settings.chroma_url
    report = CompactReport(index=settings.chroma_url or str(settings.index_dir))
    with index_lock(settings).hold("compact", settings.lock_timeout, on_wait):
        if local:
            report.bytes_before = _size(Path(settings.index_dir))
        client = open_client(settings)
        if settings.chroma_url:
            client = Reaching(client, settings.chroma_url)
        names = collection_names(settings.collection)
        scratch = collection_names(settings.collection + SCRATCH_SUFFIX)
        drop(client, scratch)  # what an interrupted run left
        existing = {str(getattr(c, "name", c)) for c in client.list_collections()}
        present = [(name, copy) for name, copy in zip(names, scratch) if name in existing]
        for name, copy in present:
            report.records += _copy(client, name, copy)
        swap_in(client, [name for name, _ in present], [copy for _, copy in present])
        if local:
            report.folders_removed = _remove_unused_folders(Path(settings.index_dir))
            _vacuum(Path(settings.index_dir) / "chroma.sqlite3")
            report.bytes_after = _size(Path(settings.index_dir))
    return report


def _copy(client: Any, name: str, copy: str) -> int:
    source = client.get_collection(name, embedding_function=None)
    config = vector_index_configuration(name, ((source.configuration_json or {}).get("hnsw") or {}).get("space"))
    target = client.create_collection(
        copy, metadata=dict(source.metadata or {}) or None, configuration=config, embedding_function=None
    )
    copied, offset = 0, 0
    while True:
        page = source.get(include=["embeddings", "metadatas"], limit=_PAGE, offset=offset)
        if len(page["ids"]):
            target.add(ids=page["ids"], embeddings=page["embeddings"], metadatas=page["metadatas"])
            copied += len(page["ids"])
        if len(page["ids"]) < _PAGE:
            return copied
        offset += _PAGE


def swap_in(client: Any, names: list[str], copies: list[str]) -> None:
    """The collections `copies` take the names `names`: each old one is renamed aside (OLD_SUFFIX) first and
    dropped last."""
    existing = {str(getattr(c, "name", c)) for c in client.list_collections()}
    olds = [name for name in names if name in existing]
    for name in olds:
        client.get_collection(name, embedding_function=None).modify(name=name + OLD_SUFFIX)
    for copy, name in zip(copies, names):
        client.get_collection(copy, embedding_function=None).modify(name=name)
    drop(client, [name + OLD_SUFFIX for name in olds])


def drop(client: Any, names: list[str]) -> None:
    """Drop these collections, those that exist."""
    for name in names:
        try:
            client.delete_collection(name)
        except Exception:  # chromadb raises NotFoundError (ValueError in older versions) for a missing collection
            continue


def _remove_unused_folders(index_dir: Path) -> int:
    """Vector index folders of no segment Chroma knows: what dropped collections left."""
    with sqlite3.connect(f"file:{index_dir / 'chroma.sqlite3'}?mode=ro", uri=True) as conn:
        known = {str(row[0]) for row in conn.execute("SELECT id FROM segments")}
    removed = 0
    for folder in index_dir.iterdir():
        if folder.is_dir() and _SEGMENT_FOLDER.match(folder.name) and folder.name not in known:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _vacuum(db: Path) -> None:
    with sqlite3.connect(db, timeout=60) as conn:
        conn.execute("VACUUM")


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
