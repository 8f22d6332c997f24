"""Hybrid retrieval: dense similarity (Chroma) and BM25 (bm25s), fused by reciprocal rank.

Dense vectors find paraphrases ("how many jets" ↔ "eighteen F-16s"); BM25 finds rare exact words
(names, places, numbers) that a small embedding model blurs. Reciprocal rank fusion needs no score
calibration between the two. Every passage then gets its cosine similarity to the question, which is
the one score that means the same thing across questions (used for refusing and shown to the user).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from qa.dates import date_number, parse_date
from qa.embeddings import Embedder
from qa.errors import ConfigError
from qa.settings import Settings
from qa.store import Store, StoredChunk

RRF_K = 60  # the constant from Cormack et al. (2009); damps the weight of the very first ranks


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk, numbered as the model and the reader see it."""

    n: int
    chunk_id: str
    doc_id: str
    title: str
    date: str | None
    source: str
    text: str
    start: int
    end: int
    score: float


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(id) = Σ 1 / (k + rank). Ties keep first-seen order."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])


def cap_per_article(ids: Sequence[str], doc_of: dict[str, str], cap: int, limit: int) -> list[str]:
    """Keep at most `cap` chunks of one article, so one long article cannot crowd out the rest."""
    taken: dict[str, int] = {}
    kept = []
    for chunk_id in ids:
        doc = doc_of[chunk_id]
        if taken.get(doc, 0) >= cap:
            continue
        taken[doc] = taken.get(doc, 0) + 1
        kept.append(chunk_id)
        if len(kept) == limit:
            break
    return kept


class BM25Index:
    """A bm25s index over every chunk of the store, rebuilt when the store's revision changes."""

    def __init__(self, chunks: list[StoredChunk]) -> None:
        import bm25s
        import Stemmer

        self.stemmer = Stemmer.Stemmer("english")
        self.chunks = chunks
        self.date_nums = np.array([date_number(c.date) for c in chunks], dtype=np.int64)
        self.retriever: Any = None
        if chunks:
            tokens = bm25s.tokenize(
                [f"{c.title}\n{c.text}" for c in chunks], stopwords="en", stemmer=self.stemmer, show_progress=False
            )
            self.retriever = bm25s.BM25()
            self.retriever.index(tokens, show_progress=False)

    def search(self, query: str, k: int, date_from: str | None, date_to: str | None) -> list[str]:
        import bm25s

        if self.retriever is None:
            return []
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=self.stemmer, show_progress=False)
        if not tokens.vocab:
            return []
        mask = None
        if date_from or date_to:
            low = date_number(date_from) if date_from else 1
            high = date_number(date_to) if date_to else 99999999
            mask = ((self.date_nums >= low) & (self.date_nums <= high)).astype(np.float32)
        k = min(k, len(self.chunks))
        docs, scores = self.retriever.retrieve(tokens, k=k, weight_mask=mask, show_progress=False, n_threads=1)
        return [self.chunks[int(i)].chunk_id for i, s in zip(docs[0], scores[0]) if s > 0]


_BM25_CACHE: dict[tuple[str, str], tuple[int, int, BM25Index]] = {}
_BM25_LOCK = threading.Lock()


def bm25_for(store: Store) -> BM25Index:
    """The BM25 index of a store, shared within the process until the store changes."""
    key = (store.location, store.settings.collection)
    revision, count = store.revision(), store.count_chunks()
    with _BM25_LOCK:
        cached = _BM25_CACHE.get(key)
        if cached and cached[0] == revision and cached[1] == count:
            return cached[2]
        index = BM25Index(list(store.iter_chunks()))
        _BM25_CACHE[key] = (revision, count, index)
        return index


class HybridRetriever:
    """Picks the passages for a question."""

    def __init__(self, settings: Settings, store: Store, embedder: Embedder) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder

    def retrieve(
        self,
        question: str,
        *,
        top_k: int | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> list[Passage]:
        top_k = top_k or self.settings.top_k
        if top_k < 1:
            raise ConfigError(f"top_k must be at least 1, got {top_k}")
        date_from, date_to = _check_range(date_from, date_to)
        candidates = max(self.settings.candidates, top_k)
        query_vector = self.embedder.embed([question])[0]

        dense = self.store.dense_search(query_vector, candidates, date_from, date_to)
        lexical = bm25_for(self.store).search(question, candidates, date_from, date_to)
        by_id: dict[str, StoredChunk] = {chunk.chunk_id: chunk for chunk, _ in dense}
        cosine: dict[str, float] = {chunk.chunk_id: score for chunk, score in dense}

        missing = [i for i in lexical if i not in by_id]
        by_id.update(self.store.get_chunks(missing))
        for chunk_id, vector in self.store.chunk_embeddings(missing).items():
            cosine[chunk_id] = float(vector @ query_vector)

        fused = [i for i, _ in reciprocal_rank_fusion([[c.chunk_id for c, _ in dense], lexical]) if i in by_id]
        chosen = cap_per_article(fused, {i: by_id[i].doc_id for i in fused}, self.settings.per_article, top_k)
        return [_passage(n, by_id[chunk_id], cosine.get(chunk_id, 0.0)) for n, chunk_id in enumerate(chosen, start=1)]


def renumber(passages: Sequence[Passage]) -> list[Passage]:
    return [replace(p, n=n) for n, p in enumerate(passages, start=1)]


def _passage(n: int, chunk: StoredChunk, score: float) -> Passage:
    return Passage(
        n=n,
        chunk_id=chunk.chunk_id,
        doc_id=chunk.doc_id,
        title=chunk.title,
        date=chunk.date,
        source=chunk.source,
        text=chunk.text,
        start=chunk.start,
        end=chunk.end,
        score=round(score, 4),
    )


def _check_range(date_from: str | None, date_to: str | None) -> tuple[str | None, str | None]:
    parsed: list[str | None] = []
    for name, value in (("date_from", date_from), ("date_to", date_to)):
        if value in (None, ""):
            parsed.append(None)
            continue
        iso = parse_date(value)
        if iso is None:
            raise ConfigError(f"{name} must be a date like 2024-01-31, got {value!r}")
        parsed.append(iso)
    if parsed[0] and parsed[1] and parsed[0] > parsed[1]:
        raise ConfigError(f"date_from {parsed[0]} is after date_to {parsed[1]}")
    return parsed[0], parsed[1]
