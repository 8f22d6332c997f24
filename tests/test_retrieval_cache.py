"""What retrieval keeps in memory (chunks, BM25, recent retrievals) and how dates are filtered without Chroma's `where`.

The retriever must give the passages it gave when every query went through Chroma's metadata filter, and must
notice any change to the index, including one made by another process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from qa import Assistant, SentenceTransformerEmbedder
from qa.index import store as store_module
from qa.index.store import Store
from qa.retrieval import hybrid as retrieval_module
from qa.text.dates import date_number
from tests.conftest import ROOT, SEED_EXCHANGE, SEED_OVERVIEW, SEEDS, UNREACHABLE_OLLAMA, make_settings

pytestmark = pytest.mark.integration

DRONES = "How many drones did Russia launch overnight?"
RANGES = [
    (None, None),
    (None, "2024-01-31"),
    ("2024-01-01", "2024-01-31"),
    ("2024-01-04", "2024-01-04"),  # both bounds are inclusive
    ("2024-01-05", None),
    (None, "2024-01-03"),
    ("2025-01-01", None),
]


class CountingEmbedder:
    """The bundled model, counting how many questions it embeds."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_tokens = inner.max_tokens
        self.embedded: list[str] = []

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return self.inner.embed(texts)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)


def _chroma_where(
    assistant: Assistant, vector: np.ndarray, k: int, date_from: str | None, date_to: str | None
) -> list[tuple[str, float]]:
    """Chroma's own nearest neighbours among the chunks whose article's date is in the range."""
    low = date_number(date_from) if date_from else 1
    high = date_number(date_to) if date_to else 99999999
    inside = [c.chunk_id for c in assistant.store.iter_chunks() if low <= date_number(c.date) <= high]
    if not (date_from or date_to):
        inside = [c.chunk_id for c in assistant.store.iter_chunks()]
    if not inside:
        return []
    result = assistant.store.chunks.query(
        query_embeddings=[vector.tolist()], n_results=min(k, len(inside)), ids=inside, include=["distances"]
    )
    return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0])]


@pytest.mark.parametrize("postfilter_max", [retrieval_module.POSTFILTER_MAX, 0], ids=["post-filter", "id-filter"])
@pytest.mark.parametrize(("date_from", "date_to"), RANGES)
def test_dense_hits_in_a_date_range_are_those_of_chromas_where_filter(
    seeded: Assistant,
    monkeypatch: pytest.MonkeyPatch,
    postfilter_max: int,
    date_from: str | None,
    date_to: str | None,
) -> None:
    # The reference is Chroma's own search among the chunks dated in the range (undated ones outside every range).
    monkeypatch.setattr(retrieval_module, "POSTFILTER_MAX", postfilter_max)
    retriever = seeded.retriever
    corpus = retrieval_module.bm25_for(seeded.store)
    for question in (DRONES, "Netherlands F-16 jets", "prisoner exchange talks in Turkey"):
        vector = seeded.embedder.embed([question])[0]
        mask = corpus.date_mask(date_from, date_to)
        dense, fetched = retriever._dense(corpus, vector, 8, mask, date_from, date_to)
        before = _chroma_where(seeded, vector, 8, date_from, date_to)
        assert [i for i, _ in dense] == [i for i, _ in before]
        assert [round(s, 4) for _, s in dense] == [round(s, 4) for _, s in before]
        assert fetched == {}  # every chunk was in memory


@pytest.mark.parametrize(("date_from", "date_to"), RANGES)
def test_passages_come_with_the_text_and_metadata_chroma_holds(
    seeded: Assistant, date_from: str | None, date_to: str | None
) -> None:
    passages = seeded.retrieve(DRONES, date_from=date_from, date_to=date_to)
    stored = seeded.store.get_chunks([p.chunk_id for p in passages])
    for p in passages:
        chunk = stored[p.chunk_id]
        assert (p.doc_id, p.title, p.date, p.source, p.text, p.start, p.end) == (
            chunk.doc_id,
            chunk.title,
            chunk.date,
            chunk.source,
            chunk.text,
            chunk.start,
            chunk.end,
        )
        if date_from or date_to:
            assert p.date is not None and (date_from or "") <= p.date <= (date_to or "9999")


def test_a_repeated_retrieval_is_remembered_until_the_index_changes(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    counting = CountingEmbedder(embedder)
    assistant = Assistant(make_settings(tmp_path / "index"), embedder=counting)  # type: ignore[arg-type]
    assistant.ingest([SEEDS / SEED_OVERVIEW])
    first = assistant.retrieve(DRONES, date_to="2024-12-31")
    asked = counting.embedded.count(DRONES)  # the ingest embeds with it too
    again = assistant.retrieve(DRONES, date_to="2024-12-31")
    assert again == first and counting.embedded.count(DRONES) == asked  # no second embedding, no second search
    assistant.retrieve(DRONES, date_to="2024-12-31", top_k=2)
    assert counting.embedded.count(DRONES) == asked + 1  # another top_k is another retrieval

    assistant.ingest([SEEDS / SEED_EXCHANGE])
    after = assistant.retrieve(DRONES)
    assert any("176 drones" in p.text for p in after), [p.text[:60] for p in after]
    assert counting.embedded.count(DRONES) == asked + 2


def test_an_ingest_by_another_process_is_seen_by_the_next_retrieval(
    chroma_server: str, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    # Processes share an index through a Chroma server (an embedded Chroma directory is one process's at a time:
    # its in-memory vector index does not see another process's writes).
    settings = make_settings(tmp_path / "unused-index", chroma_url=chroma_server, collection="other-process")
    assistant = Assistant(settings, embedder=embedder)
    assistant.ingest([SEEDS / SEED_OVERVIEW])
    before = assistant.retrieve(DRONES)
    assert not any("176 drones" in p.text for p in before)
    cached = retrieval_module.bm25_for(assistant.store)

    env = {
        **os.environ,
        "QA_CHROMA_URL": chroma_server,
        "QA_COLLECTION": "other-process",
        "OLLAMA_HOST": UNREACHABLE_OLLAMA,
    }
    done = subprocess.run(
        [sys.executable, "-m", "qa.cli", "ingest", str(SEEDS / SEED_EXCHANGE)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr

    after = assistant.retrieve(DRONES)  # the same question: the remembered passages are not reused
    assert any("176 drones" in p.text for p in after), [p.text[:60] for p in after]
    assert retrieval_module.bm25_for(assistant.store) is not cached
    assert {c.doc_id for c in retrieval_module.bm25_for(assistant.store).live_chunks()} == {
        r.doc_id for r in assistant.articles()
    }


def _seeded_and_another_writer(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> tuple[Assistant, Store]:
    """A seeded index, and a second store on it standing for another process that writes."""
    settings = make_settings(tmp_path / "index")
    assistant = Assistant(settings, embedder=embedder)
    assistant.ingest([SEEDS])
    return assistant, Store(settings, embedder.name)


def test_chunks_written_without_a_revision_bump_are_counted_at_the_next_read(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    # An ingest in another process bumps the revision only when it ends (or never, when it is interrupted); each
    # batch it writes moves the local index's write mark, so the chunk count is read again at the next read.
    assistant, other = _seeded_and_another_writer(tmp_path, embedder)
    revision, count = assistant.store.fingerprint()
    with other.writing("test"):
        other.delete_article(assistant.articles()[0].doc_id)  # no bump_revision()
    revision_now, count_now = assistant.store.fingerprint()
    assert revision_now == revision and 0 < count_now < count
    assert {c.doc_id for c in retrieval_module.bm25_for(assistant.store).live_chunks()} == {
        c.doc_id for c in other.iter_chunks()
    }


def test_on_a_server_a_chunk_count_is_trusted_for_count_ttl(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Chroma server has no write mark: the count is read again COUNT_TTL seconds after the last one.
    assistant, other = _seeded_and_another_writer(tmp_path, embedder)
    monkeypatch.setattr(assistant.store, "_mark", None)
    revision, count = assistant.store.fingerprint()
    other.delete_article(assistant.articles()[0].doc_id)
    assert assistant.store.fingerprint() == (revision, count)  # within COUNT_TTL: the count read before
    monkeypatch.setattr(store_module, "COUNT_TTL", 0.0)
    assert assistant.store.fingerprint()[1] < count
