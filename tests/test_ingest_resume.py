"""Big files stream in batches; an ingest interrupted mid-way resumes without duplicates (real Chroma and model)."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa import Assistant, Progress, SentenceTransformerEmbedder
from qa.cli.commands import cli
from qa.index.store import Store
from qa.ingest.run import Ingestor
from tests.conftest import make_settings

pytestmark = pytest.mark.integration


def write_feed(folder: Path, name: str, first: int, count: int) -> Path:
    """A JSON lines file of `count` short articles, each two or three chunks long with a small chunk budget."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(
            {
                "id": f"a{i}",
                "title": f"Council vote {i}",
                "publish_date": f"2024/01/{1 + i % 28:02d}",
                "text": " ".join(f"Town {i} voted on measure {j} after a long debate." for j in range(12)),
            }
        )
        for i in range(first, first + count)
    ]
    path = folder / name
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


def assert_consistent(store: Store, articles: int) -> None:
    """Every article once, with exactly its chunks; no chunk without its article."""
    records = store.articles()
    assert len(records) == articles
    assert Counter((r.file, r.key) for r in records).most_common(1)[0][1] == 1
    chunks = list(store.iter_chunks())
    assert len({c.chunk_id for c in chunks}) == len(chunks) == sum(r.chunks for r in records)
    assert {c.doc_id for c in chunks} == {r.doc_id for r in records}
    assert all(r.file_articles > 0 for r in records)  # no file left marked as being read


def test_an_ingest_interrupted_from_its_progress_resumes_without_duplicates(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    folder = tmp_path / "articles"
    write_feed(folder, "a.jsonl", 0, 14)
    write_feed(folder, "b.jsonl.gz", 100, 10)
    settings = make_settings(tmp_path / "index", chunk_tokens=48)
    store = Store(settings, embedder.name)
    ingestor = Ingestor(settings, store, embedder)
    ingestor.batch_chunks = 8  # several batches inside the first file
    seen: list[Progress] = []

    def stop_after_some_batches(progress: Progress) -> None:
        seen.append(progress)
        if progress.chunks >= 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingestor.run([folder], on_progress=stop_after_some_batches)
    written = store.count_articles()
    assert 0 < written < 14 and store.count_chunks() >= 20
    assert seen[-1].files_done == 0 and 0 < seen[-1].bytes_done < seen[-1].bytes_total

    resumed = Assistant(settings, embedder=embedder).ingest([folder])
    assert (resumed.unchanged, resumed.added, resumed.updated, resumed.removed) == (written, 24 - written, 0, 0)
    assert_consistent(store, 24)

    again = Assistant(settings, embedder=embedder).ingest([folder])
    assert (again.unchanged, again.added, again.chunks) == (24, 0, 0)

    # The same articles ingested in one go give the same chunks.
    whole = make_settings(tmp_path / "whole", chunk_tokens=48)
    Assistant(whole, embedder=embedder).ingest([folder])
    assert sorted(c.chunk_id for c in Store(whole, embedder.name).iter_chunks()) == sorted(
        c.chunk_id for c in store.iter_chunks()
    )


def test_progress_counts_files_articles_chunks_and_bytes_up_to_the_end(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    folder = tmp_path / "articles"
    write_feed(folder, "a.jsonl", 0, 6)
    write_feed(folder, "b.jsonl", 50, 4)
    seen: list[Progress] = []
    report = Assistant(make_settings(tmp_path / "index"), embedder=embedder).ingest([folder], on_progress=seen.append)
    bytes_done = [p.bytes_done for p in seen]
    assert bytes_done == sorted(bytes_done)
    last = seen[-1]
    assert (last.files_done, last.files_total, last.articles, last.chunks) == (2, 2, 10, report.chunks)
    assert last.bytes_done == last.bytes_total == sum(p.stat().st_size for p in folder.iterdir())
    assert last.seconds > 0


def test_a_file_changed_inside_keeps_its_other_articles_and_replaces_the_changed_one(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    folder = tmp_path / "articles"
    path = write_feed(folder, "a.jsonl", 0, 5)
    settings = make_settings(tmp_path / "index")
    assistant = Assistant(settings, embedder=embedder)
    assistant.ingest([folder])
    lines = path.read_text().splitlines()
    record = json.loads(lines[2])
    record["text"] += " A late correction about the bridge."
    lines[2] = json.dumps(record)
    del lines[4]
    path.write_text("\n".join(lines) + "\n")
    report = assistant.ingest([folder])
    assert (report.unchanged, report.updated, report.removed, report.added) == (3, 1, 1, 0)
    assert_consistent(assistant.store, 4)
    assert any("late correction" in c.text for c in assistant.store.iter_chunks())
    assert assistant.ingest([folder]).unchanged == 4


def test_the_cli_says_how_far_an_interrupted_ingest_got_and_the_next_run_resumes(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "articles"
    write_feed(folder, "a.jsonl", 0, 12)
    index = tmp_path / "index"
    monkeypatch.setenv("QA_CHUNK_TOKENS", "48")
    flush, init = Ingestor._flush, Ingestor.__init__
    calls = Counter[str]()

    def small_batches(self: Ingestor, *args: object) -> None:
        init(self, *args)  # type: ignore[arg-type]
        self.batch_chunks = 8

    def interrupted_flush(self: Ingestor, *args: object) -> None:
        calls["flush"] += 1
        if calls["flush"] == 3:
            raise KeyboardInterrupt
        flush(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Ingestor, "__init__", small_batches)
    monkeypatch.setattr(Ingestor, "_flush", interrupted_flush)
    first = CliRunner().invoke(cli, ["--index", str(index), "ingest", str(folder)])
    assert first.exit_code == 130, first.output
    assert "Interrupted after 0/1 files" in first.output and "Run the same command again" in first.output
    monkeypatch.setattr(Ingestor, "_flush", flush)
    second = CliRunner().invoke(cli, ["--index", str(index), "ingest", str(folder)])
    assert second.exit_code == 0, second.output
    assert "failed 0" in second.output
    assert_consistent(Store(make_settings(index, chunk_tokens=48), embedder.name), 12)
