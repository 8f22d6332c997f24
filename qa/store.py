"""The index: chunks and an article catalog in Chroma, written and queried through llama-index.

Two collections live side by side:
- `<name>_chunks`: one record per chunk (its embedding, text and metadata), managed by llama-index's
  `ChromaVectorStore`;
- `<name>_catalog`: one record per article (full body text, title, date, source, file and content
  hashes), which makes re-ingest incremental and lets a citation point into the whole article.
The chunk collection's metadata records the embedding model that built it, so a query or ingest
with another model is refused instead of silently comparing vectors from two different spaces.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from qa.errors import ChromaUnreachableError, IndexMismatchError, StoreError
from qa.settings import Settings

SCHEMA_VERSION = 1
_PAGE = 5000


@dataclass(frozen=True)
class ArticleRecord:
    doc_id: str
    file: str
    key: str
    file_hash: str
    source: str
    title: str
    date: str | None
    chunks: int
    chars: int
    file_articles: int = 0  # articles in the whole file when it was read; 0 in indexes older than this field


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as it comes back from the index."""

    chunk_id: str
    doc_id: str
    title: str
    date: str | None
    source: str
    start: int
    end: int
    text: str


def _metadata_to_chunk(chunk_id: str, text: str, meta: dict[str, Any]) -> StoredChunk:
    return StoredChunk(
        chunk_id=chunk_id,
        doc_id=str(meta.get("doc_id", "")),
        title=str(meta.get("title", "")),
        date=str(meta["date"]) if meta.get("date") else None,
        source=str(meta.get("source", "")),
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        text=text or "",
    )


def _record_from_metadata(doc_id: str, meta: dict[str, Any]) -> ArticleRecord:
    return ArticleRecord(
        doc_id=doc_id,
        file=str(meta["file"]),
        key=str(meta.get("key", "")),
        file_hash=str(meta.get("file_hash", "")),
        source=str(meta.get("source", "")),
        title=str(meta.get("title", "")),
        date=str(meta["date"]) if meta.get("date") else None,
        chunks=int(meta.get("chunks", 0)),
        chars=int(meta.get("chars", 0)),
        file_articles=int(meta.get("file_articles", 0)),
    )


def open_client(settings: Settings) -> Any:
    """A Chroma client: a server when QA_CHROMA_URL is set, else a local directory."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        return _open_server(settings.chroma_url, chroma_settings)
    path = Path(settings.index_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as exc:
        raise StoreError(f"Cannot open the index at {path} ({exc}); check QA_INDEX_DIR") from None


def _open_server(chroma_url: str, chroma_settings: Any) -> Any:
    import chromadb

    url = urlparse(chroma_url)
    try:
        client = chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
        client.heartbeat()
    except Exception as exc:  # chromadb raises plain ValueError / httpx errors for connection problems
        raise ChromaUnreachableError(
            f"Cannot reach the Chroma server at {chroma_url} ({exc}); start it with "
            "`chroma run --path DIR --port N` or unset QA_CHROMA_URL to use the local index in QA_INDEX_DIR"
        ) from None
    return client


class Store:
    """Chunks and catalog of one index. Cheap to construct; opens Chroma on first use."""

    def __init__(self, settings: Settings, embedding_model: str) -> None:
        self.settings = settings
        self.embedding_model = embedding_model
        self.location = settings.chroma_url or str(Path(settings.index_dir))
        self._client: Any = None
        self._chunks: Any = None
        self._catalog: Any = None
        self._vector_store: Any = None

    # --- opening ------------------------------------------------------------------------------

    def _open(self) -> None:
        if self._client is not None:
            return
        from llama_index.vector_stores.chroma import ChromaVectorStore

        client = open_client(self.settings)
        prefix = self.settings.collection
        meta = {"embedding_model": self.embedding_model, "qa_schema": SCHEMA_VERSION}
        config = {"hnsw": {"space": "cosine"}}
        try:
            chunks = client.get_or_create_collection(
                f"{prefix}_chunks", metadata=meta, configuration=config, embedding_function=None
            )
            catalog = client.get_or_create_collection(
                f"{prefix}_catalog", metadata={"revision": 0}, configuration=config, embedding_function=None
            )
        except Exception as exc:
            raise StoreError(f"Cannot open the Chroma collections at {self.location} ({exc})") from None
        built_with = (chunks.metadata or {}).get("embedding_model")
        elsewhere = (
            "set QA_COLLECTION to another name to keep a second index on the same server"
            if self.settings.chroma_url
            else "point QA_INDEX_DIR at another directory"
        )
        if built_with and built_with != self.embedding_model:
            raise IndexMismatchError(
                f"The index at {self.location} was built with embedding model {built_with!r}, but "
                f"QA_EMBEDDING_MODEL is {self.embedding_model!r}. Rebuild it with "
                f"`qa ingest --rebuild PATH...`, or {elsewhere}."
            )
        self._client, self._chunks, self._catalog = client, chunks, catalog
        self._vector_store = ChromaVectorStore(chroma_collection=chunks)

    @property
    def chunks(self) -> Any:
        self._open()
        return self._chunks

    @property
    def catalog(self) -> Any:
        self._open()
        return self._catalog

    @property
    def vector_store(self) -> Any:
        self._open()
        return self._vector_store

    def reset(self) -> None:
        """Drop both collections (a rebuild); they are created again on next use."""
        self._open()
        for name in (self._chunks.name, self._catalog.name):
            self._client.delete_collection(name)
        self._client = self._chunks = self._catalog = self._vector_store = None

    # --- writing ------------------------------------------------------------------------------

    def add_chunks(self, nodes: Sequence[Any]) -> None:
        """Add llama-index TextNodes that already carry their embeddings."""
        if nodes:
            self.vector_store.add(list(nodes))

    def add_article(self, record: ArticleRecord, text: str, embedding: np.ndarray) -> None:
        self.add_articles([record], [text], [embedding])

    def add_articles(
        self, records: Sequence[ArticleRecord], texts: Sequence[str], embeddings: Sequence[np.ndarray]
    ) -> None:
        """Catalog records for a batch of articles, in one write (one per article cost ~45 ms each)."""
        if not records:
            return
        metadatas = [
            {
                "file": record.file,
                "key": record.key,
                "file_hash": record.file_hash,
                "source": record.source,
                "title": record.title,
                "date": record.date or "",
                "chunks": record.chunks,
                "chars": record.chars,
                "file_articles": record.file_articles,
            }
            for record in records
        ]
        self.catalog.upsert(
            ids=[record.doc_id for record in records],
            embeddings=[np.asarray(e, dtype=np.float32).tolist() for e in embeddings],
            metadatas=metadatas,
            documents=list(texts),
        )

    def delete_chunks_of(self, doc_ids: Sequence[str]) -> None:
        """Remove every chunk of these articles (what llama-index's `delete(ref_doc_id)` does, for many at once)."""
        if doc_ids:
            self.chunks.delete(where={"document_id": {"$in": list(doc_ids)}})

    def set_file_hash(self, doc_ids: Sequence[str], file_hash: str, file_articles: int) -> None:
        """Articles unchanged inside a changed file (a JSON lines file): remember the new file hash."""
        if doc_ids:
            meta = {"file_hash": file_hash, "file_articles": file_articles}
            self.catalog.update(ids=list(doc_ids), metadatas=[meta] * len(doc_ids))

    def delete_article(self, doc_id: str) -> None:
        self.vector_store.delete(ref_doc_id=doc_id)
        self.catalog.delete(ids=[doc_id])

    def delete_articles(self, doc_ids: Sequence[str]) -> None:
        """Remove articles and their chunks, chunks first (a catalog record is never left without its chunks)."""
        for start in range(0, len(doc_ids), _PAGE):
            page = list(doc_ids[start : start + _PAGE])
            self.delete_chunks_of(page)
            self.catalog.delete(ids=page)

    def bump_revision(self) -> int:
        """Mark the index as changed, so caches built from it (BM25) know to rebuild."""
        revision = self.revision() + 1
        self.catalog.modify(metadata={"revision": revision})
        return revision

    # --- reading ------------------------------------------------------------------------------

    def revision(self) -> int:
        """The catalog's revision as the store has it now, not as it was when this process opened it.

        A collection object keeps the metadata it was fetched with, so another process's ingest (a second UI
        on the same Chroma server or directory) would go unseen and leave a stale BM25 index here.
        """
        catalog = self.catalog
        try:
            fresh = self._client.get_collection(catalog.name, embedding_function=None)
        except Exception as exc:
            raise StoreError(
                f"The index at {self.location} lost its catalog ({exc}); was it rebuilt by another process? "
                "Run the command again"
            ) from None
        return int((fresh.metadata or {}).get("revision", 0))

    def count_chunks(self) -> int:
        return int(self.chunks.count())

    def count_articles(self) -> int:
        return int(self.catalog.count())

    def articles(self, where: dict[str, Any] | None = None) -> list[ArticleRecord]:
        records: list[ArticleRecord] = []
        offset = 0
        while True:
            page = self.catalog.get(where=where, include=["metadatas"], limit=_PAGE, offset=offset)
            records.extend(_record_from_metadata(i, m) for i, m in zip(page["ids"], page["metadatas"]))
            if len(page["ids"]) < _PAGE:
                return records
            offset += _PAGE

    def articles_of_file(self, file: str) -> list[ArticleRecord]:
        return self.articles(where={"file": file})

    def article_text(self, doc_id: str) -> str | None:
        page = self.catalog.get(ids=[doc_id], include=["documents"])
        return page["documents"][0] if page["ids"] else None

    def iter_chunks(self) -> Iterator[StoredChunk]:
        """Every chunk, page by page (the BM25 index is built from these)."""
        offset = 0
        while True:
            page = self.chunks.get(include=["documents", "metadatas"], limit=_PAGE, offset=offset)
            for chunk_id, text, meta in zip(page["ids"], page["documents"], page["metadatas"]):
                yield _metadata_to_chunk(chunk_id, text, meta)
            if len(page["ids"]) < _PAGE:
                return
            offset += _PAGE

    def chunk_embeddings(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        if not chunk_ids:
            return {}
        page = self.chunks.get(ids=list(chunk_ids), include=["embeddings"])
        return {i: np.asarray(e, dtype=np.float32) for i, e in zip(page["ids"], page["embeddings"])}

    def get_chunks(self, chunk_ids: Sequence[str]) -> dict[str, StoredChunk]:
        if not chunk_ids:
            return {}
        page = self.chunks.get(ids=list(chunk_ids), include=["documents", "metadatas"])
        return {i: _metadata_to_chunk(i, t, m) for i, t, m in zip(page["ids"], page["documents"], page["metadatas"])}

    def dense_search(
        self, embedding: np.ndarray, k: int, date_from: str | None = None, date_to: str | None = None
    ) -> list[tuple[StoredChunk, float]]:
        """Nearest chunks by cosine similarity, through llama-index's vector store query."""
        from llama_index.core.vector_stores.types import (
            FilterOperator,
            MetadataFilter,
            MetadataFilters,
            VectorStoreQuery,
        )

        from qa.dates import date_number

        filters = []
        if date_from:
            filters.append(MetadataFilter(key="date_num", value=date_number(date_from), operator=FilterOperator.GTE))
        if date_to:
            filters.append(MetadataFilter(key="date_num", value=date_number(date_to), operator=FilterOperator.LTE))
        if filters:  # an undated article cannot be placed in a date range
            filters.append(MetadataFilter(key="date_num", value=0, operator=FilterOperator.GT))
        query = VectorStoreQuery(
            query_embedding=embedding.tolist(),
            similarity_top_k=k,
            filters=MetadataFilters(filters=filters) if filters else None,
        )
        result = self.vector_store.query(query)
        hits = []
        for node, similarity in zip(result.nodes or [], result.similarities or []):
            # llama-index reports exp(-distance); Chroma's cosine distance is 1 - cosine.
            cosine = 1.0 + float(np.log(similarity)) if similarity > 0 else -1.0
            hits.append((_metadata_to_chunk(node.node_id, node.get_content(), dict(node.metadata)), cosine))
        return hits
