"""Ingest against real Chroma and the real bundled embedding model."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa import Assistant, IndexMismatchError, SentenceTransformerEmbedder
from qa.index.layout import FOLDERS_FLAG, FOLDERS_KEY, ArticleRecord, folders_of
from qa.index.store import Store
from qa.ingest.run import Ingestor
from tests.conftest import SEED_EXCHANGE, SEED_OVERVIEW, SEEDS, make_settings

pytestmark = pytest.mark.integration


def test_ingesting_seeds_indexes_both_articles_with_title_date_and_source(
    assistant: Assistant, seeds_copy: Path
) -> None:
    report = assistant.ingest([seeds_copy])
    assert (report.added, report.updated, report.unchanged, report.removed, report.failed) == (2, 0, 0, 0, [])
    assert report.chunks == assistant.store.count_chunks() > 2
    records = {Path(r.source).name: r for r in assistant.articles()}
    assert records[SEED_OVERVIEW].date == "2024-01-04"
    assert records[SEED_EXCHANGE].date is None
    assert records[SEED_EXCHANGE].title.startswith("Ukraine Targets Prisoner Exchange")


def test_reingesting_unchanged_files_adds_nothing(assistant: Assistant, seeds_copy: Path) -> None:
    assistant.ingest([seeds_copy])
    chunks = assistant.store.count_chunks()
    again = assistant.ingest([seeds_copy])
    assert (again.added, again.updated, again.unchanged, again.removed, again.chunks) == (0, 0, 2, 0, 0)
    assert assistant.store.count_chunks() == chunks


def test_a_changed_file_replaces_its_chunks(assistant: Assistant, seeds_copy: Path) -> None:
    assistant.ingest([seeds_copy])
    path = seeds_copy / SEED_EXCHANGE
    path.write_text(path.read_text() + "\n\nA late paragraph about a solar farm in Odesa being repaired.\n")
    report = assistant.ingest([seeds_copy])
    assert (report.added, report.updated, report.unchanged) == (0, 1, 1)
    records = assistant.articles()
    assert len(records) == 2
    doc_ids = {r.doc_id for r in records}
    stored_docs = {c.doc_id for c in assistant.store.iter_chunks()}
    assert stored_docs == doc_ids  # no chunk of the old version is left behind
    assert any("solar farm in Odesa being repaired" in c.text for c in assistant.store.iter_chunks())


def test_a_file_deleted_from_an_ingested_folder_is_pruned(assistant: Assistant, seeds_copy: Path) -> None:
    assistant.ingest([seeds_copy])
    (seeds_copy / SEED_EXCHANGE).unlink()
    report = assistant.ingest([seeds_copy])
    assert (report.removed, report.unchanged) == (1, 1)
    assert [Path(r.source).name for r in assistant.articles()] == [SEED_OVERVIEW]
    assert {c.doc_id for c in assistant.store.iter_chunks()} == {assistant.articles()[0].doc_id}


def test_a_deleted_subfolder_is_pruned_and_a_sibling_folder_is_not(assistant: Assistant, tmp_path: Path) -> None:
    news = tmp_path / "news"
    for folder, seed in (("jan", SEED_OVERVIEW), ("feb", SEED_EXCHANGE)):
        (news / folder).mkdir(parents=True)
        shutil.copy(SEEDS / seed, news / folder / seed)
    sibling = tmp_path / "news-archive"  # shares the prefix "news", not the folder
    sibling.mkdir()
    (sibling / "note.txt").write_text("Archive note\n\nThe rail strike in Lyon ended on Monday after talks.\n")
    assistant.ingest([news, sibling])
    shutil.rmtree(news / "feb")
    report = assistant.ingest([news])
    assert report.removed == 1
    assert sorted(Path(r.file).name for r in assistant.articles()) == sorted([SEED_OVERVIEW, "note.txt"])


def test_ingest_reads_only_the_catalog_records_of_its_own_files(
    assistant: Assistant, seeds_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "note.txt").write_text("Rail note\n\nThe rail strike in Lyon ended on Monday after talks.\n")
    assistant.ingest([seeds_copy, other])
    reads: list[object] = []
    articles = Store.articles

    def counted(store: Store, where: dict[str, object] | None = None) -> list[ArticleRecord]:
        reads.append(where)
        return articles(store, where)

    monkeypatch.setattr(Store, "articles", counted)
    (seeds_copy / SEED_EXCHANGE).unlink()
    report = assistant.ingest([seeds_copy])
    assert (report.removed, report.unchanged) == (1, 1)
    assert None not in reads  # never the whole catalog: the files' records, then the folder's
    assert sorted(Path(r.file).name for r in assistant.articles()) == sorted(["note.txt", SEED_OVERVIEW])


def test_an_index_written_without_folder_lists_gets_them_once_and_prunes_as_before(
    assistant: Assistant, seeds_copy: Path
) -> None:
    assistant.ingest([seeds_copy])
    store = assistant.store
    # As an index written before catalog records listed their folders: no lists, no flag.
    ids = [r.doc_id for r in store.articles()]
    store.catalog.update(ids=ids, metadatas=[{FOLDERS_KEY: None}] * len(ids))
    store.chunks.modify(metadata={k: v for k, v in (store.chunks.metadata or {}).items() if k != FOLDERS_FLAG})
    assert store.articles_under(str(seeds_copy.resolve())) == []
    (seeds_copy / SEED_EXCHANGE).unlink()
    report = assistant.ingest([seeds_copy])
    assert report.removed == 1
    assert [Path(r.file).name for r in assistant.articles()] == [SEED_OVERVIEW]
    assert (store.chunks.metadata or {}).get(FOLDERS_FLAG)
    assert [r.doc_id for r in store.articles_under(str(seeds_copy.resolve()))] == [assistant.articles()[0].doc_id]


def test_no_prune_keeps_articles_of_deleted_files(assistant: Assistant, seeds_copy: Path) -> None:
    assistant.ingest([seeds_copy])
    (seeds_copy / SEED_EXCHANGE).unlink()
    assert assistant.ingest([seeds_copy], prune=False).removed == 0
    assert len(assistant.articles()) == 2


def test_bad_files_are_reported_per_file_and_the_rest_is_indexed(assistant: Assistant, seeds_copy: Path) -> None:
    (seeds_copy / "empty.txt").write_text("")
    (seeds_copy / "image.txt").write_bytes(b"\x89PNG\x00\x00\x00")
    (seeds_copy / "latin.md").write_bytes("Caf\xe9 news\n\nBody".encode("latin-1"))
    (seeds_copy / "slides.pdf").write_bytes(b"%PDF-1.4")
    (seeds_copy / "feed.jsonl").write_text('{"title": "Ok", "text": "A fine article about rail."}\n{broken\n')
    report = assistant.ingest([seeds_copy, seeds_copy / "missing.txt"])
    failed = {Path(f.path.split(":")[0]).name: f.error for f in report.failed}
    assert set(failed) == {"empty.txt", "image.txt", "latin.md", "slides.pdf", "feed.jsonl", "missing.txt"}
    assert "empty" in failed["empty.txt"] and "binary" in failed["image.txt"]
    assert "UTF-8" in failed["latin.md"] and "unsupported" in failed["slides.pdf"]
    assert "no such file" in failed["missing.txt"]
    assert report.added == 3  # two seeds and the good line of feed.jsonl


def test_a_file_that_turns_bad_keeps_its_indexed_version(assistant: Assistant, seeds_copy: Path) -> None:
    assistant.ingest([seeds_copy])
    before = {r.doc_id for r in assistant.articles()}
    (seeds_copy / SEED_EXCHANGE).write_bytes(b"\x00\x01binary now")
    report = assistant.ingest([seeds_copy])
    assert len(report.failed) == 1 and report.removed == 0
    assert {r.doc_id for r in assistant.articles()} == before


def test_rebuild_starts_from_an_empty_index(assistant: Assistant, seeds_copy: Path) -> None:
    assistant.ingest([seeds_copy])
    chunks = assistant.store.count_chunks()
    report = assistant.ingest([seeds_copy], rebuild=True)
    assert report.added == 2 and assistant.store.count_chunks() == chunks


def test_an_index_built_with_another_embedding_model_is_refused(
    tmp_path: Path, seeds_copy: Path, embedder: SentenceTransformerEmbedder
) -> None:
    settings = make_settings(tmp_path / "index")
    Assistant(settings, embedder=embedder).ingest([seeds_copy])
    other = Store(settings, "some-other-model")
    with pytest.raises(IndexMismatchError, match="qa ingest --rebuild"):
        other.count_chunks()


def test_ingest_identifies_a_file_by_its_resolved_path(
    assistant: Assistant, seeds_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assistant.ingest([seeds_copy])
    monkeypatch.chdir(seeds_copy.parent)
    again = assistant.ingest([Path("articles") / ".." / "articles"])
    assert (again.added, again.unchanged) == (0, 2)


def test_hidden_files_and_folders_are_ignored(assistant: Assistant, seeds_copy: Path) -> None:
    (seeds_copy / ".git").mkdir()
    shutil.copy(seeds_copy / SEED_OVERVIEW, seeds_copy / ".git" / "copy.txt")
    (seeds_copy / ".DS_Store").write_bytes(b"\x00\x00")
    report = assistant.ingest([seeds_copy])
    assert report.added == 2 and report.failed == []


class _FailsOnSecondBatch:
    """The real embedder, until a second batch: an ingest interrupted half-way through a big file."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner, self.calls = inner, 0
        self.name, self.max_tokens = inner.name, inner.max_tokens
        self.count_tokens = inner.count_tokens

    def embed(self, texts: list[str]) -> object:
        self.calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt
        return self.inner.embed(texts)


def test_an_interrupted_big_file_resumes_after_what_was_written(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    lines = [
        json.dumps({"id": f"a{i}", "title": f"Story {i}", "date": "2024-01-0{i}", "text": f"Town {i} voted. " * 30})
        for i in range(1, 7)
    ]
    export = tmp_path / "export.jsonl"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = make_settings(tmp_path / "index")
    store = Store(settings, embedder.name)
    interrupted = Ingestor(settings, store, _FailsOnSecondBatch(embedder))  # type: ignore[arg-type]
    interrupted.batch_chunks = 1
    with pytest.raises(KeyboardInterrupt):
        interrupted.run([export])
    assert store.count_articles() == 1

    resumed = Assistant(settings, embedder=embedder).ingest([export])
    assert (resumed.unchanged, resumed.added) == (1, 5)
    again = Assistant(settings, embedder=embedder).ingest([export])
    assert (again.unchanged, again.added) == (6, 0)


def test_a_record_whose_file_is_no_absolute_path_is_stored_and_upgraded_without_folders(
    assistant: Assistant, seeds_copy: Path
) -> None:
    # As a tool writing straight through the Store names its articles (the scale benchmark: `scale://copy-3`).
    record = ArticleRecord(
        doc_id="feedfacefeedface",
        file="scale://copy-3",
        key="k",
        file_hash="h",
        source="s",
        title="A copy",
        date="2024-01-04",
        chunks=1,
        chars=24,
    )
    store = assistant.store
    store.add_chunks(["feedfacefeedface:0"], np.ones((1, 384), dtype=np.float32) / np.sqrt(384))
    store.add_articles([record], ["A copy of a wire story."], [[(0, 24)]], [np.ones(384) / np.sqrt(384)])
    assert folders_of(record.file) == []
    store.chunks.modify(metadata={k: v for k, v in (store.chunks.metadata or {}).items() if k != FOLDERS_FLAG})
    assistant.ingest([seeds_copy])  # upgrades the catalog once, skipping what lies in no folder
    assert "feedfacefeedface" in {r.doc_id for r in assistant.articles()}
    assert (store.chunks.metadata or {}).get(FOLDERS_FLAG)
