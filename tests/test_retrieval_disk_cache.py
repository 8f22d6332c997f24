"""The retriever's copy on disk (qa.index.corpus): a cold `qa ask` reads the chunks and their BM25 index from the cache
an ingest saved instead of rebuilding them. It may not change a single passage.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa import Assistant, SentenceTransformerEmbedder
from qa.chunks import Passage, StoredChunk
from qa.index import corpus as corpus_module
from qa.index import segments as segments_module
from qa.retrieval import hybrid as retrieval_module
from tests.conftest import SEED_EXCHANGE, SEED_OVERVIEW, SEEDS, make_settings

pytestmark = pytest.mark.integration

QUESTIONS = [
    "How many drones did Russia launch overnight?",
    "Netherlands F-16 jets",
    "prisoner exchange talks in Turkey",
    "Who met in Davos?",
]
RANGES = [(None, None), (None, "2024-01-31"), ("2024-01-04", "2024-01-04"), ("2025-01-01", None)]


def meta(index_dir: Path) -> dict[str, object]:
    return dict(json.loads((index_dir / "cache" / "bm25-articles" / "meta.json").read_text()))


def fresh(index_dir: Path, embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch) -> Assistant:
    """An assistant as a new process would have it: nothing of the index in memory yet."""
    monkeypatch.setattr(retrieval_module, "_BM25_CACHE", {})
    return Assistant(make_settings(index_dir), embedder=embedder)


class Builds:
    """Counts how often the BM25 index is built from all of the store's chunks (instead of loaded from disk or
    extended by a delta segment)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        build = corpus_module.BM25Index.build

        def counted(
            chunks: list[StoredChunk], background: corpus_module.Background | None = None
        ) -> corpus_module.BM25Index:
            self.count += background is None
            return build(chunks, background)

        monkeypatch.setattr(corpus_module.BM25Index, "build", staticmethod(counted))


def everything(assistant: Assistant) -> list[list[Passage]]:
    return [
        assistant.retrieve(q, date_from=date_from, date_to=date_to) for q in QUESTIONS for date_from, date_to in RANGES
    ]


def test_an_ingest_saves_the_cache_and_a_fresh_assistant_loads_it_instead_of_building(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    built = Assistant(make_settings(index), embedder=embedder)
    builds = Builds(monkeypatch)
    built.ingest([SEEDS])
    assert builds.count == 1  # at the end of the ingest, not at the first question
    saved = meta(index)
    assert (saved["revision"], saved["chunks"]) == built.store.fingerprint()
    expected = everything(built)
    assert builds.count == 1

    loaded = fresh(index, embedder, monkeypatch)
    assert everything(loaded) == expected  # the same passages, scores and order
    assert builds.count == 1
    corpus = retrieval_module.bm25_for(loaded.store)
    assert isinstance(corpus.chunks, corpus_module.ChunkTable)
    assert list(corpus.chunks) == list(built.store.iter_chunks())


def test_results_are_the_same_with_and_without_the_cache(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    Assistant(make_settings(index), embedder=embedder).ingest([SEEDS])
    loaded = everything(fresh(index, embedder, monkeypatch))
    monkeypatch.setattr(segments_module, "load", lambda root, key: None)
    assert everything(fresh(index, embedder, monkeypatch)) == loaded


def manifest(index_dir: Path) -> dict[str, object]:
    return dict(json.loads((index_dir / "cache" / "bm25-articles-deltas" / "manifest.json").read_text()))


def test_the_cache_follows_the_index_by_delta_segments_without_a_rebuild(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    first = Assistant(make_settings(index), embedder=embedder)
    first.ingest([SEEDS / SEED_OVERVIEW])
    before = meta(index)
    builds = Builds(monkeypatch)

    # Another ingest adds a delta segment and saves it; a fresh assistant loads both and finds the new article.
    first.ingest([SEEDS / SEED_EXCHANGE])
    assert builds.count == 0 and meta(index) == before  # the main segment stays as it was saved
    key = manifest(index)["key"]
    assert isinstance(key, dict) and (key["revision"], key["chunks"]) == first.store.fingerprint()
    second = fresh(index, embedder, monkeypatch)
    assert any("176 drones" in p.text for p in second.retrieve(QUESTIONS[0]))
    assert len(retrieval_module.bm25_for(second.store).segments) == 2

    # A remove (another process's) masks the article's chunks: the next retrieval anywhere saves that, and
    # nothing is built from the store.
    exchange = next(r.doc_id for r in second.articles() if Path(r.file).name == SEED_EXCHANGE)
    assert second.remove([exchange]) == 1
    third = fresh(index, embedder, monkeypatch)
    assert not any(p.doc_id == exchange for p in third.retrieve(QUESTIONS[0]))
    assert builds.count == 0
    key = manifest(index)["key"]
    assert isinstance(key, dict) and (key["revision"], key["chunks"]) == third.store.fingerprint()
    assert {c.doc_id for c in retrieval_module.bm25_for(third.store).live_chunks()} == {
        r.doc_id for r in third.articles()
    }
    fresh(index, embedder, monkeypatch).retrieve(QUESTIONS[1])
    assert builds.count == 0


def test_a_rebuilt_index_does_not_reuse_the_cache_of_the_one_it_replaced(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rebuild starts the revision from 0 again and may end with the same revision and chunk count.
    index = tmp_path / "index"
    assistant = Assistant(make_settings(index), embedder=embedder)
    assistant.ingest([SEEDS])
    old = meta(index)
    monkeypatch.setattr(segments_module, "save", lambda root, key, corpus, main: False)  # the old copy stays
    assistant.ingest([SEEDS], rebuild=True)
    assert (
        (meta(index)["revision"], meta(index)["chunks"])
        == assistant.store.fingerprint()
        == (
            old["revision"],
            old["chunks"],
        )
    )
    builds = Builds(monkeypatch)
    fresh(index, embedder, monkeypatch).retrieve(QUESTIONS[0])
    assert builds.count == 1  # the old copy names the old collection


@pytest.mark.parametrize(
    "damage",
    [
        "truncated-texts",
        "garbage-columns",
        "no-meta",
        "garbage-meta",
        "truncated-bm25",
        "missing-array",
        "short-array",
        "partial-staging",
    ],
)
def test_a_corrupt_or_partial_cache_is_ignored_and_rebuilt(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    index = tmp_path / "index"
    Assistant(make_settings(index), embedder=embedder).ingest([SEEDS])
    expected = everything(fresh(index, embedder, monkeypatch))
    folder = index / "cache" / "bm25-articles"
    if damage == "truncated-texts":
        (folder / "texts.bin").write_bytes((folder / "texts.bin").read_bytes()[:100])
    elif damage == "garbage-columns":
        (folder / "columns.json").write_text("{not json")
    elif damage == "no-meta":
        (folder / "meta.json").unlink()
    elif damage == "garbage-meta":
        (folder / "meta.json").write_bytes(b"\x00\xff")
    elif damage == "truncated-bm25":
        data = folder / "bm25" / "data.csc.index.npy"
        data.write_bytes(data.read_bytes()[:64])
    elif damage == "missing-array":
        (folder / "starts.npy").unlink()
    elif damage == "short-array":
        np.save(folder / "date_nums.npy", np.zeros(2, dtype=np.int64))
    else:  # a writer killed before its rename: a half-written folder next to no valid one
        (folder / "meta.json").rename(index / "cache" / "meta.json")
        (folder).rename(index / "cache" / ".bm25-articles-x1y2")

    builds = Builds(monkeypatch)
    assert everything(fresh(index, embedder, monkeypatch)) == expected
    assert builds.count == 1
    fresh(index, embedder, monkeypatch).retrieve(QUESTIONS[0])
    assert builds.count == 1  # the rebuilt copy was saved in its place


def test_an_unwritable_cache_folder_only_costs_time(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    assistant = Assistant(make_settings(index), embedder=embedder)
    (index / "cache").parent.mkdir(parents=True)
    (index / "cache").write_text("a file where the cache folder would go")
    assistant.ingest([SEEDS])
    assert any("176 drones" in p.text for p in fresh(index, embedder, monkeypatch).retrieve(QUESTIONS[0]))


def test_a_server_index_keeps_its_cache_per_server_and_collection_in_the_user_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    local = make_settings(tmp_path / "index")
    assert corpus_module.cache_root(local) == tmp_path / "index" / "cache"
    roots = {
        corpus_module.cache_root(make_settings(tmp_path / "index", chroma_url=url, collection=name))
        for url in ("http://127.0.0.1:8000", "http://10.0.0.2:8000")
        for name in ("articles", "other")
    }
    assert len(roots) == 4 and all(r.parent == tmp_path / "user-cache" / "newsqa" / "retrieval" for r in roots)
