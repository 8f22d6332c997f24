"""The index keeps each text once (layout 2), and an index in the older layout is refused, then converted."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from qa import Assistant, IndexFormatError
from qa.cli.commands import cli
from qa.index.chroma import open_client
from qa.index.embeddings import SentenceTransformerEmbedder
from qa.index.layout import SMALL_SYNC_THRESHOLD, ArticleRecord, decode_spans, decode_text
from qa.index.store import Store
from qa.settings import Settings
from tests.conftest import SEEDS, make_settings

QUESTION = "How many prisoners did Ukraine and Russia exchange?"


def test_a_chunk_is_stored_as_its_vector_and_article_id_only(seeded: Assistant) -> None:
    chunks, catalog, texts = seeded.store.collections()
    page = chunks.get(include=["documents", "metadatas"])
    assert page["ids"] and all(document is None for document in page["documents"])
    assert all(set(meta) == {"doc_id"} for meta in page["metadatas"])
    assert all(document is None for document in catalog.get(include=["documents"])["documents"])
    assert texts.count() == catalog.count() == seeded.store.count_articles()


def test_every_chunk_text_is_its_article_text_cut_at_its_stored_offsets(seeded: Assistant) -> None:
    _, _, texts = seeded.store.collections()
    stored = texts.get(include=["metadatas"])
    by_article = {
        d: (decode_text(m["text"]), decode_spans(m["spans"])) for d, m in zip(stored["ids"], stored["metadatas"])
    }
    chunks = list(seeded.store.iter_chunks())
    assert len(chunks) == seeded.store.count_chunks()
    for chunk in chunks:
        text, spans = by_article[chunk.doc_id]
        n = int(chunk.chunk_id.rpartition(":")[2])
        assert (chunk.start, chunk.end) == spans[n] and chunk.text == text[chunk.start : chunk.end]
    some = [c.chunk_id for c in chunks[:3]]
    assert {i: c.text for i, c in seeded.store.get_chunks(some).items()} == {c.chunk_id: c.text for c in chunks[:3]}


def _write_layout_1(source: Assistant, target: Path) -> None:
    """The seed index as newsqa wrote it before layout 2: chunk texts as documents with their metadata, the article
    text in the catalog, no texts collection."""
    chunks, catalog, _ = source.store.collections()
    old_chunks = chunks.get(include=["embeddings"])
    old_catalog = catalog.get(include=["metadatas", "embeddings"])
    by_id = {c.chunk_id: c for c in source.store.iter_chunks()}
    originals = {d: text for d, (text, _) in source.store.article_texts(old_catalog["ids"]).items()}
    client = open_client(Settings(index_dir=target, chroma_url=None))
    meta = {"embedding_model": source.embedder.name, "qa_schema": 1}
    new_chunks = client.create_collection(
        "articles_chunks", metadata=meta, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
    )
    new_catalog = client.create_collection(
        "articles_catalog",
        metadata={"revision": 3},
        configuration={"hnsw": {"space": "cosine"}},
        embedding_function=None,
    )
    stored = [by_id[i] for i in old_chunks["ids"]]
    new_chunks.add(
        ids=old_chunks["ids"],
        embeddings=old_chunks["embeddings"],
        documents=[c.text for c in stored],
        metadatas=[
            {
                "doc_id": c.doc_id,
                "title": c.title,
                "date": c.date or "",
                "source": c.source,
                "start": c.start,
                "end": c.end,
                "chunk": int(c.chunk_id.rpartition(":")[2]),
                "_node_content": "{}",
            }
            for c in stored
        ],
    )
    new_catalog.add(
        ids=old_catalog["ids"],
        embeddings=old_catalog["embeddings"],
        metadatas=old_catalog["metadatas"],
        documents=[originals[d] for d in old_catalog["ids"]],
    )


def test_an_index_in_the_older_layout_is_refused_with_the_command_that_converts_it(
    seeded: Assistant, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    old = tmp_path / "old"
    _write_layout_1(seeded, old)
    assistant = Assistant(make_settings(old), embedder=embedder)
    with pytest.raises(IndexFormatError, match=r"older layout \(1; this newsqa writes 2\).*`qa migrate`"):
        assistant.ask(QUESTION, mode="extract")


def test_migrate_converts_an_older_index_in_place_and_answers_as_before(
    seeded: Assistant, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    old = tmp_path / "old"
    _write_layout_1(seeded, old)
    result = CliRunner().invoke(cli, ["--index", str(old), "migrate"])
    assert result.exit_code == 0, result.output
    assert "converted from layout 1 to 2 (2 articles" in result.output

    migrated = Assistant(make_settings(old), embedder=embedder)
    assert {c.chunk_id: (c.text, c.start, c.end) for c in migrated.store.iter_chunks()} == {
        c.chunk_id: (c.text, c.start, c.end) for c in seeded.store.iter_chunks()
    }
    before, after = seeded.ask(QUESTION, mode="extract"), migrated.ask(QUESTION, mode="extract")
    assert after.answer == before.answer and [(c.doc_id, c.quote_start) for c in after.citations] == [
        (c.doc_id, c.quote_start) for c in before.citations
    ]
    assert migrated.doctor().ok
    again = CliRunner().invoke(cli, ["--index", str(old), "migrate"])
    assert again.exit_code == 0 and "already has layout 2; nothing to do" in again.output


def test_ingest_into_a_fresh_index_writes_the_current_layout(
    embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    articles = tmp_path / "articles"
    shutil.copytree(SEEDS, articles)
    assistant = Assistant(make_settings(tmp_path / "index"), embedder=embedder)
    assistant.ingest([articles])
    chunks, _, _ = assistant.store.collections()
    assert chunks.metadata["qa_schema"] == 2


def test_compact_gives_back_what_rebuilds_left_and_keeps_every_article(
    embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    articles = tmp_path / "articles"
    shutil.copytree(SEEDS, articles)
    assistant = Assistant(make_settings(tmp_path / "index"), embedder=embedder)
    assistant.ingest([articles])
    for _ in range(2):  # each rebuild drops the collections; Chroma leaves their vector index folders behind
        assistant.ingest([articles], rebuild=True)
    before = {c.chunk_id: c.text for c in assistant.store.iter_chunks()}
    answer = assistant.ask(QUESTION, mode="extract")

    result = CliRunner().invoke(cli, ["--index", str(tmp_path / "index"), "compact"])
    assert result.exit_code == 0, result.output
    assert "unused vector index folders removed" in result.output

    compacted = Assistant(make_settings(tmp_path / "index"), embedder=embedder)
    report = compacted.compact()
    assert report.folders_removed == 3  # the folders of the collections its own copies replaced
    assert report.bytes_after is not None and report.bytes_before is not None
    assert report.bytes_after <= report.bytes_before
    assert {c.chunk_id: c.text for c in compacted.store.iter_chunks()} == before
    assert compacted.ask(QUESTION, mode="extract").answer == answer.answer
    assert compacted.doctor().ok
    folders = [p for p in (tmp_path / "index").iterdir() if p.is_dir() and p.name != "cache"]
    assert len(folders) == 3  # one vector index per collection, nothing left of the dropped ones


def _write_log_entries(index_dir: Path, collection: Any) -> int:
    """Records of `collection` still in Chroma's write log (the `embeddings_queue` table), not yet in its index."""
    with sqlite3.connect(f"file:{index_dir / 'chroma.sqlite3'}?mode=ro", uri=True) as conn:
        # A record's topic names its collection: `persistent://<tenant>/<database>/<collection id>` in Chroma 1.x.
        topic = f"%/{collection.id}"
        return int(conn.execute("SELECT COUNT(*) FROM embeddings_queue WHERE topic LIKE ?", (topic,)).fetchone()[0])


def test_article_texts_do_not_stay_in_chromas_write_log(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "index")
    store = Store(settings, "all-MiniLM-L6-v2")
    rng = np.random.default_rng(0)
    for batch in range(5):  # 250 articles in batches of 50, as ingest writes them
        fields = {"file": f"/news/{batch}.jsonl", "file_hash": "h", "source": "Wire", "date": "2024-01-02"}
        records = [
            ArticleRecord(doc_id=f"d{batch}-{n}", key=str(n), title=f"Story {n}", chunks=1, chars=3000, **fields)
            for n in range(50)
        ]
        texts = [f"Article {r.doc_id}. " + "The council met again today. " * 100 for r in records]
        vectors = [v / np.linalg.norm(v) for v in rng.normal(size=(50, 384)).astype(np.float32)]
        with store.writing("test"):
            store.add_articles(records, texts, [[(0, 3000)]] * 50, vectors)
    _, catalog, texts_collection = store.collections()
    assert texts_collection.count() == 250
    # Each collection's log keeps what its vector index has not saved yet: under SMALL_SYNC_THRESHOLD records.
    assert _write_log_entries(settings.index_dir, texts_collection) < SMALL_SYNC_THRESHOLD
    assert _write_log_entries(settings.index_dir, catalog) < SMALL_SYNC_THRESHOLD


def test_an_index_written_before_gets_the_short_write_log_when_opened(
    seeded: Assistant, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    client = open_client(Settings(index_dir=tmp_path / "old", chroma_url=None))
    for name in ("articles_catalog", "articles_texts"):  # created as newsqa did before: Chroma's default, 1,000
        client.create_collection(name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
    del client
    store = Store(make_settings(tmp_path / "old"), embedder.name)
    _, catalog, texts = store.collections()
    for collection in (catalog, texts):
        assert collection.configuration_json["hnsw"]["sync_threshold"] == SMALL_SYNC_THRESHOLD
