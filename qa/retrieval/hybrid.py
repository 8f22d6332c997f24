"""Hybrid retrieval: dense similarity (Chroma) and BM25 (bm25s), fused by reciprocal rank.

Dense vectors find paraphrases ("how many jets" ↔ "eighteen F-16s"); BM25 finds rare exact words
(names, places, numbers) that a small embedding model blurs. Reciprocal rank fusion needs no score
calibration between the two. Every passage then gets its cosine similarity to the question, which is
the one score that means the same thing across questions (used for refusing and shown to the user).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from qa.chunks import Elsewhere, Passage, StoredChunk
from qa.errors import ConfigError, InputError
from qa.index import segments
from qa.index.corpus import BM25Index, cache_key, cache_root, date_bounds
from qa.index.embeddings import Embedder
from qa.index.layout import doc_id_of
from qa.index.store import Store
from qa.settings import Settings
from qa.text.dates import date_number, parse_date
from qa.text.injection import is_instruction, mask

RRF_K = 60  # the constant from Cormack et al. (2009); damps the weight of the very first ranks


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


@dataclass
class _Held:
    """A process's BM25 corpus of one index: the fingerprint it matches, and its main segment's key on disk (None:
    not saved)."""

    fingerprint: tuple[int, int]
    corpus: segments.Corpus
    index_key: dict[str, Any]  # the cache key it was made for: the index's identity and the tokenisation
    main_key: dict[str, Any] | None


_BM25_CACHE: dict[tuple[str, str], _Held] = {}
_BM25_LOCK = threading.Lock()


def bm25_for(store: Store, fingerprint: tuple[int, int] | None = None) -> segments.Corpus:
    """The BM25 corpus of a store, shared within the process until the store changes (its revision or count).

    A process that has none yet loads the copy saved on disk (see `qa.index.corpus`). A corpus behind the store is
    brought up to date with the articles added and removed since (`qa.index.segments`), or built again from every
    chunk when that is due, and what is new of it is saved for the next process.
    """
    key = (store.location, store.settings.collection)
    fingerprint = fingerprint or store.fingerprint()
    with _BM25_LOCK:
        held = _BM25_CACHE.get(key)
        if held and held.fingerprint == fingerprint:
            return held.corpus
        root = cache_root(store.settings)
        wanted = cache_key(store.settings.collection, str(store.chunks.id), fingerprint)
        if held is None or not segments.same_index(held.index_key, wanted):
            held = None
            loaded = segments.load(root, wanted)
            if loaded is not None:
                corpus, saved_key, saved_main = loaded
                held = _Held((int(saved_key["revision"]), int(saved_key["chunks"])), corpus, saved_key, saved_main)
                if held.fingerprint == fingerprint:
                    _BM25_CACHE[key] = held
                    return corpus
        corpus_now = _caught_up(store, held.corpus) if held is not None else None
        main_key: dict[str, Any] | None = held.main_key if held is not None else None
        if corpus_now is None:
            corpus_now, main_key = segments.Corpus([BM25Index.build(list(store.iter_chunks()))]), None
        # Saved only when nothing was written while the chunks were read, so the copy is what its key says.
        whole = len(corpus_now.position) == fingerprint[1]
        unchanged = whole and (store.revision(), store.count_chunks()) == fingerprint
        if unchanged and segments.save(root, wanted, corpus_now, main_key) and main_key is None:
            main_key = wanted
        _BM25_CACHE[key] = _Held(fingerprint, corpus_now, wanted, main_key)
        return corpus_now


def _caught_up(store: Store, corpus: segments.Corpus) -> segments.Corpus | None:
    """`corpus` with the articles added to and removed from the store since it was built; None when a full rebuild
    is due (see qa/index/segments.py)."""
    current = set(store.article_ids())
    live = corpus.live_docs()
    added = store.records(sorted(current - live))
    gone = live - current
    changed = corpus.delta_chunks() + int(corpus.dead.sum()) + sum(r.chunks for r in added)
    if segments.rebuild_due(len(corpus.main.ids), changed):
        return None
    return segments.extended(corpus, list(store.chunks_of(added)), gone)


# A date range that keeps at least this share of the chunks is searched by asking Chroma for more neighbours
# without a filter and dropping those out of range here; a narrower one by Chroma's id filter. See _dense.
POSTFILTER_MAX = 1000  # most neighbours asked for before falling back to the id filter
RECENT_RETRIEVALS = 256  # retrievals remembered per retriever (the eval repeats each query several times)


class RecentRetrievals:
    """The last RECENT_RETRIEVALS retrievals by key, oldest dropped first; safe across threads."""

    def __init__(self) -> None:
        self._passages: OrderedDict[tuple[object, ...], tuple[Passage, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> list[Passage] | None:
        with self._lock:
            if key not in self._passages:
                return None
            self._passages.move_to_end(key)
            return list(self._passages[key])

    def put(self, key: tuple[object, ...], passages: Sequence[Passage]) -> None:
        with self._lock:
            self._passages[key] = tuple(passages)
            while len(self._passages) > RECENT_RETRIEVALS:
                self._passages.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._passages.clear()


def checked_request(
    settings: Settings, top_k: int | None, date_from: str | None, date_to: str | None
) -> tuple[int, str | None, str | None]:
    """top_k (the settings' by default) and the date range, checked, as every retriever takes them."""
    top_k = top_k or settings.top_k
    if top_k < 1:
        raise ConfigError(f"top_k must be at least 1, got {top_k}")
    return (top_k, *_check_range(date_from, date_to))


class Retriever(Protocol):
    """What answering needs from retrieval: whether there is anything to search, and the passages for a question."""

    def is_empty(self) -> bool: ...

    def retrieve(
        self,
        question: str,
        *,
        top_k: int | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> list[Passage]: ...


class HybridRetriever:
    """Picks the passages for a question."""

    def __init__(self, settings: Settings, store: Store, embedder: Embedder) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self._recent = RecentRetrievals()

    def is_empty(self) -> bool:
        return self.store.fingerprint()[1] == 0  # the count: read again after a write (a server: once a second)

    def retrieve(
        self,
        question: str,
        *,
        top_k: int | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> list[Passage]:
        top_k, date_from, date_to = checked_request(self.settings, top_k, date_from, date_to)
        candidates = max(self.settings.candidates, top_k)
        fingerprint = self.store.fingerprint()
        # The same question on the same index gives the same passages: the multiple-choice path and the eval
        # ask it several times. Keyed on the index's fingerprint, so an ingest anywhere makes it miss.
        key = (
            question,
            top_k,
            candidates,
            self.settings.per_article,
            self.settings.one_per_story,
            date_from,
            date_to,
            fingerprint,
        )
        remembered = self._recent.get(key)
        if remembered is not None:
            return remembered
        passages = self._retrieve(question, top_k, candidates, date_from, date_to, fingerprint)
        self._recent.put(key, passages)
        return passages

    def forget_recent(self) -> None:
        """Drop the remembered retrievals (benchmarks time the retrieval itself, not the memory of it)."""
        self._recent.clear()

    def _retrieve(
        self,
        question: str,
        top_k: int,
        candidates: int,
        date_from: str | None,
        date_to: str | None,
        fingerprint: tuple[int, int],
    ) -> list[Passage]:
        corpus = bm25_for(self.store, fingerprint)
        query_vector = self.embedder.embed([question])[0]
        mask = corpus.date_mask(date_from, date_to)

        dense, fetched = self._dense(corpus, query_vector, candidates, mask, date_from, date_to)
        lexical = corpus.search(question, candidates, date_from, date_to, mask)
        # Dense hits written after the in-memory chunks were read (another process's ingest still running).
        fetched.update(self.store.get_chunks([i for i, _ in dense if i not in corpus.position and i not in fetched]))
        fused = reciprocal_rank_fusion([[i for i, _ in dense], lexical])
        known = [i for i, _ in fused if i in corpus.position or i in fetched]
        story_of: dict[str, str] = {}
        if self.settings.one_per_story:
            known, story_of = self._one_per_story(known, corpus)
        chosen = cap_per_article(known, {i: doc_id_of(i) for i in known}, self.settings.per_article, top_k)
        # Only the chosen chunks are read (a chunk read out of the corpus decompresses its article's text: reading
        # every candidate took ~7 ms a question at 500k chunks), and only their similarity is looked up.
        by_id = {i: corpus.chunks[corpus.position[i]] if i in corpus.position else fetched[i] for i in chosen}
        cosine: dict[str, float] = dict(dense)
        for chunk_id, vector in self.store.chunk_embeddings([i for i in chosen if i not in cosine]).items():
            cosine[chunk_id] = float(vector @ query_vector)
        passages = [_passage(n, by_id[i], cosine.get(i, 0.0)) for n, i in enumerate(chosen, start=1)]
        return self._with_stories(passages, story_of, corpus) if story_of else passages

    def _one_per_story(self, fused: list[str], corpus: segments.Corpus) -> tuple[list[str], dict[str, str]]:
        """The fused chunks of the best-ranked article of each story (its copies dropped), and each article's story:
        from the corpus, or for an article written after it was read (another process's ingest still running),
        from the catalog."""
        docs = list(dict.fromkeys(doc_id_of(i) for i in fused))
        story_of = {d: story for d in docs if (story := corpus.story_of(d)) is not None}
        unknown = [d for d in docs if d not in story_of]
        if unknown:
            story_of |= {d: d for d in unknown} | {r.doc_id: r.story for r in self.store.records(unknown)}
        lead: dict[str, str] = {}
        kept = [i for i in fused if lead.setdefault(story_of[doc_id_of(i)], doc_id_of(i)) == doc_id_of(i)]
        return kept, story_of

    def _with_stories(
        self, passages: list[Passage], story_of: dict[str, str], corpus: segments.Corpus
    ) -> list[Passage]:
        """Passages with their story, and the other articles of it (the corpus's, and the catalog's when a passage
        comes from an article the corpus does not hold yet)."""
        stories = sorted({story_of[p.doc_id] for p in passages})
        found = {e.doc_id: (story, e) for story in stories for e in corpus.story_members(story)}
        late = sorted({story_of[p.doc_id] for p in passages if corpus.story_of(p.doc_id) is None})
        if late:
            found |= {
                r.doc_id: (r.story, Elsewhere(r.doc_id, r.title, r.source, r.date)) for r in self.store.stories(late)
            }
        members: dict[str, list[Elsewhere]] = {}
        for story, elsewhere in sorted(found.values(), key=lambda m: (m[1].date or "", m[1].doc_id)):
            members.setdefault(story, []).append(elsewhere)
        return [
            replace(
                p,
                story=story_of[p.doc_id],
                also_in=tuple(e for e in members.get(story_of[p.doc_id], []) if e.doc_id != p.doc_id),
            )
            for p in passages
        ]

    def _dense(
        self,
        corpus: segments.Corpus,
        vector: np.ndarray,
        k: int,
        mask: np.ndarray | None,
        date_from: str | None,
        date_to: str | None,
    ) -> tuple[list[tuple[str, float]], dict[str, StoredChunk]]:
        """The k nearest chunks in the date range, and any of them the in-memory chunks did not have yet.

        Chroma's `where` filter on date_num scans its metadata (~0.6 s at 70k chunks, whatever the range), so
        the range is applied here: a wide range (a quiz's "up to this week" keeps ~95% of the chunks) asks
        Chroma for enough neighbours that k of them fall in it (twice the expected number) and drops the rest;
        a narrow one hands Chroma the ids in range (its id filter: the same filtered search as `where`,
        which costs ~1 ms per 1,000 ids). Both stay within Chroma's HNSW index.
        """
        if mask is None:
            return self.store.nearest(vector, k), {}
        allowed = int(mask.sum())
        total = len(corpus.chunks)
        wanted = math.ceil(2 * k * total / allowed) if allowed else total + 1
        if wanted <= POSTFILTER_MAX:
            hits = self.store.nearest(vector, wanted)
            fetched = self.store.get_chunks([i for i, _ in hits if i not in corpus.position])
            low, high = date_bounds(date_from, date_to)
            kept = []
            for chunk_id, score in hits:
                position = corpus.position.get(chunk_id)
                if position is not None:
                    inside = bool(mask[position])
                else:
                    inside = chunk_id in fetched and low <= date_number(fetched[chunk_id].date) <= high
                if inside:
                    kept.append((chunk_id, score))
            if len(kept) >= k or len(hits) < wanted:  # enough, or every chunk was looked at
                return kept[:k], fetched
        if not allowed:
            return [], {}
        return self.store.nearest(vector, k, among=[corpus.ids[int(n)] for n in np.flatnonzero(mask)]), {}


def renumber(passages: Sequence[Passage]) -> list[Passage]:
    return [replace(p, n=n) for n, p in enumerate(passages, start=1)]


_masked = lru_cache(maxsize=4096)(mask)  # the same chunks come back question after question


def _passage(n: int, chunk: StoredChunk, score: float) -> Passage:
    """A chunk as everything after retrieval sees it, with the sentences that give orders to an AI masked.

    This is the one place the guarantee of qa/text/injection.py is kept: the prompt, evidence and quotes,
    verification, multiple choice, conflicts and the source cards read nothing but passages. It holds for
    indexes built before ingest masked their chunks too. A title that gives orders is dropped.
    """
    return Passage(
        n=n,
        chunk_id=chunk.chunk_id,
        doc_id=chunk.doc_id,
        title="" if is_instruction(chunk.title) else chunk.title,
        date=chunk.date,
        source=chunk.source,
        text=_masked(chunk.text),
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
            raise InputError(f"{name} must be a date like 2024-01-31, got {value!r}")
        parsed.append(iso)
    if parsed[0] and parsed[1] and parsed[0] > parsed[1]:
        raise InputError(f"date_from {parsed[0]} is after date_to {parsed[1]}")
    return parsed[0], parsed[1]
