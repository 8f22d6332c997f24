"""An article is one record of its file, whatever url it shares; a file rewritten while it is read is not a success."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa import Assistant, Progress, SentenceTransformerEmbedder
from qa.index.store import Store
from tests.conftest import make_settings

pytestmark = pytest.mark.integration


CHANGED_WHILE_READ = "changed while it was being read; run the ingest again"


def assert_consistent(store: Store, articles: int) -> None:
    """Every record once (two records may share a url, so an article is told by its id: file, key and content),
    with exactly its chunks; no chunk without its article; no file left marked as being read."""
    records = store.articles()
    assert len(records) == len({r.doc_id for r in records}) == articles
    chunks = list(store.iter_chunks())
    assert len({c.chunk_id for c in chunks}) == len(chunks) == sum(r.chunks for r in records)
    assert {c.doc_id for c in chunks} == {r.doc_id for r in records}
    assert all(r.file_articles > 0 for r in records)


def record(i: int, url: str | None = None, extra: str = "") -> dict[str, str]:
    return {
        "url": url or f"https://news.example/{i}",
        "title": f"Council vote {i}",
        "text": f"Town {i} voted on harbour measure {i} after a long debate about the ferry.{extra}",
    }


def write(path: Path, records: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def ten_with_a_shared_url() -> list[dict[str, str]]:
    records = [record(i) for i in range(10)]
    records[7] = record(7, url=records[3]["url"])  # two different articles under one url
    return records


@pytest.fixture
def fresh(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Assistant:
    return Assistant(make_settings(tmp_path / "index"), embedder=embedder)


def test_appending_to_a_file_whose_records_share_a_url_keeps_every_record(fresh: Assistant, tmp_path: Path) -> None:
    records = ten_with_a_shared_url()
    path = write(tmp_path / "feed.jsonl", records)
    assert fresh.ingest([path]).added == 10
    write(path, records + [record(i) for i in range(10, 400)])
    report = fresh.ingest([path])
    assert (report.added, report.updated, report.unchanged, report.removed) == (390, 0, 10, 0)
    assert_consistent(fresh.store, 400)
    third = fresh.ingest([path])
    assert (third.added, third.unchanged, third.removed) == (0, 400, 0)


def test_editing_one_of_two_records_that_share_a_url_updates_it_and_keeps_the_other(
    fresh: Assistant, tmp_path: Path
) -> None:
    records = ten_with_a_shared_url()
    path = write(tmp_path / "feed.jsonl", records)
    fresh.ingest([path])
    records[7] = record(7, url=records[3]["url"], extra=" A late correction about the bridge.")
    write(path, records)
    report = fresh.ingest([path])
    assert (report.added, report.updated, report.unchanged, report.removed) == (0, 1, 9, 0)
    assert_consistent(fresh.store, 10)
    texts = [c.text for c in fresh.store.iter_chunks()]
    assert any("late correction" in t for t in texts) and any(t.startswith("Town 3 ") for t in texts)


def test_reordering_records_that_share_a_url_changes_nothing(fresh: Assistant, tmp_path: Path) -> None:
    records = ten_with_a_shared_url()
    path = write(tmp_path / "feed.jsonl", records)
    fresh.ingest([path])
    write(path, list(reversed(records)))
    report = fresh.ingest([path])
    assert (report.added, report.updated, report.unchanged, report.removed, report.chunks) == (0, 0, 10, 0, 0)
    assert_consistent(fresh.store, 10)


def test_a_file_rewritten_while_it_is_read_is_reported_failed_and_the_next_run_makes_the_index_exact(
    fresh: Assistant, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    path = write(tmp_path / "feed.jsonl", [record(i) for i in range(300)])
    rewritten = [record(i, extra=" Second edition.") for i in range(1000, 1300)]
    calls: list[Progress] = []

    def rewrite_at_the_first_progress(progress: Progress) -> None:
        if not calls:  # the reader is inside the file: its first articles are read, the rest is not
            write(path, rewritten)
        calls.append(progress)

    report = fresh.ingest([path], on_progress=rewrite_at_the_first_progress)
    # Besides the file, the line cut in two by the rewrite may be reported as not valid JSON.
    assert (str(path), CHANGED_WHILE_READ) in [(f.path, f.error) for f in report.failed]

    again = fresh.ingest([path])
    assert not again.failed
    assert_consistent(fresh.store, 300)
    clean = Assistant(make_settings(tmp_path / "clean"), embedder=embedder)
    clean.ingest([path])
    assert {r.doc_id for r in fresh.store.articles()} == {r.doc_id for r in clean.store.articles()}
    assert fresh.ingest([path]).unchanged == 300
