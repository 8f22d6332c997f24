"""A retriever for benchmark runs that cannot wait for a full index: BM25 over every chunk, in memory.

The RealTimeQA archive is about 73k chunks; embedding them into Chroma takes about 85 minutes on 2 cores, while
chunking and BM25 take a couple of minutes. This retriever chunks the articles exactly as ingest does
(`Ingestor.chunk_article`: same chunker, same masking of sentences that give orders to an AI), keeps them in
memory, takes the BM25 candidates in the date range in BM25 order, and caps them per article as hybrid retrieval
does. The dense half of hybrid retrieval is what it leaves out; the cosine the relevance gate reads is computed
for the passages it returns only, from the text ingest would have embedded. Reports made with it say so
(`retrieval: lexical`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from qa.chunks import Passage, StoredChunk
from qa.errors import DocumentError
from qa.index.corpus import BM25Index
from qa.index.embeddings import Embedder
from qa.index.store import Store
from qa.ingest import documents
from qa.ingest.run import Ingestor
from qa.ingest.stream import ArticleStream
from qa.retrieval.hybrid import RecentRetrievals, _passage, cap_per_article, checked_request
from qa.settings import Settings

ARCHIVE_MAX_BYTES = 1000 * 2**20  # the benchmark's archive, decompressed, is far above a user upload's limit


def chunk_articles(path: Path, settings: Settings, embedder: Embedder) -> tuple[list[StoredChunk], dict[str, str]]:
    """Every chunk of the articles in `path` as ingest would store it, and the text ingest would embed for each
    (by chunk id). Nothing is embedded or written."""
    # The store is only there for the Ingestor's signature: chunking never opens it.
    ingestor = Ingestor(settings, Store(settings, embedder.name), embedder)
    chunks: list[StoredChunk] = []
    embedded: dict[str, str] = {}
    for article in _articles(path):
        pieces, texts = ingestor.chunk_article(article)
        for chunk, text in zip(pieces, texts, strict=True):
            chunk_id = f"{article.doc_id}:{chunk.index}"  # the node id ingest gives it
            chunks.append(
                StoredChunk(
                    chunk_id=chunk_id,
                    doc_id=article.doc_id,
                    title=article.title,
                    date=article.date,
                    source=article.source,
                    start=chunk.start,
                    end=chunk.end,
                    text=chunk.text,
                )
            )
            embedded[chunk_id] = text
    return chunks, embedded


def _articles(path: Path) -> Iterator[documents.Article]:
    for item in ArticleStream(path, ARCHIVE_MAX_BYTES):
        if isinstance(item, DocumentError):
            continue  # a malformed record: ingest skips it the same way
        yield item


class LexicalRetriever:
    """BM25 candidates in the date range, in BM25 order, capped per article (see the module doc)."""

    def __init__(
        self, settings: Settings, chunks: list[StoredChunk], embedded: dict[str, str], embedder: Embedder
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.corpus = BM25Index.build(chunks)
        self.by_id = {c.chunk_id: c for c in chunks}
        self.embedded = embedded
        self._vectors: dict[str, np.ndarray] = {}
        self._recent = RecentRetrievals()

    @classmethod
    def from_archive(cls, path: Path, settings: Settings, embedder: Embedder) -> LexicalRetriever:
        chunks, embedded = chunk_articles(path, settings, embedder)
        return cls(settings, chunks, embedded, embedder)

    def is_empty(self) -> bool:
        return not self.by_id

    def retrieve(
        self,
        question: str,
        *,
        top_k: int | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> list[Passage]:
        top_k, date_from, date_to = checked_request(self.settings, top_k, date_from, date_to)
        key = (question, top_k, date_from, date_to)
        remembered = self._recent.get(key)
        if remembered is not None:
            return remembered
        ids = self.corpus.search(question, max(self.settings.candidates, top_k), date_from, date_to)
        chosen = cap_per_article(ids, {i: self.by_id[i].doc_id for i in ids}, self.settings.per_article, top_k)
        passages = self._with_cosine(question, [_passage(n, self.by_id[i], 0.0) for n, i in enumerate(chosen, start=1)])
        self._recent.put(key, passages)
        return passages

    def _with_cosine(self, question: str, passages: list[Passage]) -> list[Passage]:
        """The passages with their cosine similarity to the question, as the relevance gate reads it."""
        if not passages:
            return passages
        fresh = [p.chunk_id for p in passages if p.chunk_id not in self._vectors]
        if fresh:
            vectors = self.embedder.embed([self.embedded[i] for i in fresh])
            self._vectors.update(zip(fresh, vectors, strict=True))
        asked = self.embedder.embed([question])[0]
        return [replace(p, score=round(float(self._vectors[p.chunk_id] @ asked), 4)) for p in passages]
