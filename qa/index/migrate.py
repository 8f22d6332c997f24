"""`qa migrate`: an index written in layout 1 converted in place to the current layout, every vector kept.

Layout 1 kept each chunk's text as a Chroma document (full-text indexed) beside llama-index's node JSON, and the
article's text in the catalog: three copies of every text, about 15 KB a chunk. The conversion reads the old
collections page by page and writes the current ones under a scratch name, vectors copied as they are (nothing is
embedded again), then swaps them in: the old collections are renamed aside first and dropped last, so a run killed
half-way leaves the old index whole, and running the command again starts over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import BaseModel

from qa.errors import StoreError
from qa.index.chroma import Reaching, open_client
from qa.index.compact import drop, swap_in
from qa.index.layout import SCHEMA_VERSION, ArticleRecord, chunk_id, collection_names, record_from_metadata
from qa.index.locking import WaitCallback, index_lock
from qa.index.store import Store
from qa.settings import Settings
from qa.text.injection import mask

SCRATCH_SUFFIX = "-migrate"
_PAGE = 200  # articles per page: their chunks (~15 each) and vectors are read and written together


class MigrationReport(BaseModel):
    index: str
    from_layout: int
    to_layout: int = SCHEMA_VERSION
    articles: int = 0
    chunks: int = 0


def migrate(
    settings: Settings,
    embedding_model: str,
    on_wait: WaitCallback | None = None,
    on_page: Callable[[int, int], None] | None = None,
) -> MigrationReport:
    """Convert the index of `settings` to the current layout; a report of what was converted (nothing when it
    already has the current layout). `on_page(done, total)` hears of each page of articles converted."""
    location = settings.chroma_url or str(settings.index_dir)
    with index_lock(settings).hold("migrate", settings.lock_timeout, on_wait):
        client = open_client(settings)
        if settings.chroma_url:
            client = Reaching(client, settings.chroma_url)
        chunks_name, catalog_name, texts_name = collection_names(settings.collection)
        existing = {str(getattr(c, "name", c)) for c in client.list_collections()}
        if chunks_name not in existing or catalog_name not in existing:
            raise StoreError(f"There is no index at {location} to convert")
        old_chunks = client.get_collection(chunks_name, embedding_function=None)
        old_catalog = client.get_collection(catalog_name, embedding_function=None)
        layout = int((old_chunks.metadata or {}).get("qa_schema", 1))
        report = MigrationReport(index=location, from_layout=layout)
        if layout == SCHEMA_VERSION:
            report.articles, report.chunks = old_catalog.count(), old_chunks.count()
            return report
        if layout != 1:
            raise StoreError(f"The index at {location} has layout {layout}, which this newsqa cannot convert")
        scratch_settings = settings.model_copy(update={"collection": settings.collection + SCRATCH_SUFFIX})
        drop(client, collection_names(scratch_settings.collection))  # what an interrupted run left
        scratch = Store(scratch_settings, embedding_model)
        total = old_catalog.count()
        for offset in range(0, total, _PAGE):
            page = old_catalog.get(include=["metadatas", "documents", "embeddings"], limit=_PAGE, offset=offset)
            articles, pieces = _convert_page(old_chunks, page)
            scratch.add_chunks(pieces[0], pieces[1])
            scratch.add_articles(*articles)
            report.articles += len(page["ids"])
            report.chunks += len(pieces[0])
            if on_page:
                on_page(report.articles, total)
        revision = int((old_catalog.metadata or {}).get("revision", 0)) + 1
        scratch.close()
        # The old collections aside (an empty texts collection the refusal may have created included), the new ones
        # into their names, the old ones dropped last.
        scratch_catalog = client.get_collection(
            collection_names(scratch_settings.collection)[1], embedding_function=None
        )
        scratch_catalog.modify(metadata={"revision": revision})
        swap_in(client, [chunks_name, catalog_name, texts_name], collection_names(scratch_settings.collection))
        return report


def _convert_page(
    old_chunks: Any, page: dict[str, Any]
) -> tuple[tuple[list[ArticleRecord], list[str], list[list[tuple[int, int]]], list[np.ndarray]], tuple[list[str], Any]]:
    """One page of old catalog records as (records, masked texts, spans, article vectors), and their chunks as
    (chunk ids, vectors)."""
    doc_ids = list(page["ids"])
    got = old_chunks.get(where={"doc_id": {"$in": doc_ids}}, include=["metadatas", "embeddings"])
    by_article: dict[str, list[tuple[int, int, int, Any]]] = {d: [] for d in doc_ids}
    for old_id, meta, vector in zip(got["ids"], got["metadatas"], got["embeddings"]):
        meta = meta or {}
        doc_id = str(meta.get("doc_id", ""))
        if doc_id in by_article:
            n = int(meta.get("chunk", old_id.rpartition(":")[2] or 0))
            by_article[doc_id].append((n, int(meta.get("start", 0)), int(meta.get("end", 0)), vector))
    records, texts, spans, article_vectors = [], [], [], []
    ids: list[str] = []
    vectors: list[Any] = []
    for doc_id, meta, text, vector in zip(doc_ids, page["metadatas"], page["documents"], page["embeddings"]):
        pieces = sorted(by_article[doc_id], key=lambda piece: piece[0])
        records.append(record_from_metadata(doc_id, meta or {}))
        texts.append(mask(text or ""))  # layout 1 stored chunks cut from the masked text; so does this one
        spans.append([(start, end) for _, start, end, _ in pieces])
        article_vectors.append(np.asarray(vector, dtype=np.float32))
        ids += [chunk_id(doc_id, n) for n in range(len(pieces))]
        vectors += [v for *_, v in pieces]
    return (records, texts, spans, article_vectors), (ids, np.asarray(vectors, dtype=np.float32).reshape(len(ids), -1))
