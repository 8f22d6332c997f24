"""BM25 kept up to date by delta segments (qa/index/segments.py): a delta segment scores its chunks as one index over
everything would, removed chunks are never found, and what is saved loads back the same."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from qa.chunks import StoredChunk
from qa.index import segments
from qa.index.corpus import Background, BM25Index, cache_key

WORDS = [
    "drone",
    "strike",
    "kyiv",
    "missile",
    "ukraine",
    "russia",
    "army",
    "border",
    "talks",
    "minister",
    "parliament",
    "election",
    "vote",
    "court",
    "judge",
    "storm",
    "flood",
    "river",
    "harbour",
    "bank",
    "rates",
    "inflation",
    "budget",
    "tax",
    "strike",
    "union",
    "rail",
    "airport",
    "ferry",
    "museum",
    "festival",
    "prisoner",
    "exchange",
    "ceasefire",
    "energy",
    "grid",
    "winter",
    "gas",
    "pipeline",
    "refinery",
    "satellite",
    "navy",
    "fleet",
    "port",
    "grain",
    "ship",
]
QUERIES = ["drone strike on kyiv", "prisoner exchange talks", "grain ship port", "inflation and rates", "winter gas"]


def article(n: int, rng: random.Random, date: str = "2024-01-04") -> list[StoredChunk]:
    doc_id = f"doc{n:04d}"
    chunks = []
    for c in range(rng.randint(1, 3)):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40)))
        chunks.append(StoredChunk(f"{doc_id}:{c}", doc_id, f"title {n}", date, "src", 0, len(text), text))
    return chunks


def articles(first: int, count: int, seed: int = 7) -> list[StoredChunk]:
    rng = random.Random(seed * 1000 + first)
    return [chunk for n in range(first, first + count) for chunk in article(n, rng)]


def scores(index: BM25Index, query: str) -> dict[str, float]:
    return dict(index.scored(query, len(index.ids), None))


def test_a_delta_segment_scores_its_chunks_as_one_index_over_everything_would() -> None:
    old, new = articles(0, 60), articles(60, 6)
    whole = BM25Index.build(old + new)
    main = BM25Index.build(old)
    delta = BM25Index.build(new, Background.of([main]))
    for query in QUERIES:
        expected = scores(whole, query)
        found = scores(delta, query)
        assert found and all(found[i] == pytest.approx(expected[i], rel=1e-5) for i in found)


def test_a_corpus_with_deltas_finds_what_one_index_over_everything_finds() -> None:
    old = articles(0, 80)
    corpus = segments.Corpus([BM25Index.build(old)])
    added: list[StoredChunk] = []
    for batch in range(3):
        new = articles(80 + 5 * batch, 5)
        extended = segments.extended(corpus, new, set())
        assert extended is not None
        corpus, added = extended, added + new
    assert len(corpus.segments) == 4
    whole = BM25Index.build(old + added)
    for query in QUERIES:
        # Main's word statistics leave out the deltas (here a sixth of the corpus), so scores differ a little and
        # the last places may swap: nearly the same chunks come back.
        found = set(corpus.search(query, 10, None, None))
        assert len(found & set(whole.search(query, 10, None, None))) >= 8
    assert [c.chunk_id for c in corpus.chunks] == whole.ids


def test_removed_articles_are_masked_out_of_search_dates_and_positions() -> None:
    corpus = segments.Corpus([BM25Index.build(articles(0, 40))])
    gone = {"doc0003", "doc0010"}
    extended = segments.extended(corpus, articles(40, 4), gone)
    assert extended is not None
    for query in QUERIES:
        found = extended.search(query, 50, None, None) + extended.search(query, 50, None, "2024-12-31")
        assert found and not any(chunk_id.split(":")[0] in gone for chunk_id in found)
    assert not any(chunk_id.split(":")[0] in gone for chunk_id in extended.position)
    mask = extended.date_mask("2024-01-01", None)
    assert mask is not None and not any(
        mask[n] for n, chunk_id in enumerate(extended.ids) if chunk_id.split(":")[0] in gone
    )
    assert extended.live_docs() == {f"doc{n:04d}" for n in range(44)} - gone


def test_an_article_removed_and_added_again_is_found_in_its_new_segment() -> None:
    first = articles(0, 30)
    corpus = segments.Corpus([BM25Index.build(first)])
    removed = segments.extended(corpus, [], {"doc0005"})
    assert removed is not None
    back = segments.extended(removed, [c for c in first if c.doc_id == "doc0005"], set())
    assert back is not None and back.live_docs() == corpus.live_docs()
    chunk = next(c for c in first if c.doc_id == "doc0005")
    assert back.position[chunk.chunk_id] >= len(first)  # the live copy, in the delta


def test_deltas_are_merged_past_max_deltas_and_everything_rebuilt_past_the_share(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(segments, "REBUILD_AT_LEAST", 0)
    corpus = segments.Corpus([BM25Index.build(articles(0, 200))])
    for batch in range(segments.MAX_DELTAS + 1):
        extended = segments.extended(corpus, articles(200 + batch, 1), set())
        assert extended is not None
        corpus = extended
    assert len(corpus.segments) == 2  # the ninth delta merged them into one
    assert len(corpus.ids) == len(set(corpus.ids))
    too_many = articles(300, 60)
    assert segments.extended(corpus, too_many, set()) is None


def test_saved_deltas_and_removals_load_back_the_same(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    key = cache_key("articles", "collection-id", (3, 0))
    main = BM25Index.build(articles(0, 30))
    key["chunks"] = len(main.ids)
    corpus = segments.Corpus([main])
    assert segments.save(root, key, corpus, None)
    main_key = dict(key)
    extended = segments.extended(corpus, articles(30, 3), {"doc0002"})
    assert extended is not None
    later = {**key, "revision": 4, "chunks": len(extended.position)}
    assert segments.save(root, later, extended, main_key)

    loaded = segments.load(root, later)
    assert loaded is not None
    again, saved_key, saved_main = loaded
    assert saved_key == later and saved_main == main_key
    assert again.ids == extended.ids and np.array_equal(again.dead, extended.dead)
    for query in QUERIES:
        assert again.search(query, 20, None, None) == extended.search(query, 20, None, None)
    # Another index (a rebuilt collection) does not take it.
    assert segments.load(root, {**later, "identity": "another-collection"}) is None
