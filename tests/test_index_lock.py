"""Several processes on one local index: writers take turns, readers reopen, a broken index is repaired, and a
killed ingest is made exact by the next run. Every test runs real `qa` processes on real Chroma."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa import Assistant, SentenceTransformerEmbedder
from qa.index.store import Store
from tests.conftest import ROOT, SEEDS, UNREACHABLE_OLLAMA, make_settings
from tests.test_ingest_resume import assert_consistent

pytestmark = pytest.mark.integration

QA = [sys.executable, "-m", "qa.cli"]
WRITERS = [sys.executable, "-m", "tests.index_writers"]
HOLDER_FILE = "write.lock.holder"  # the pid of the process holding an index's write lock, in the index directory


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "OLLAMA_HOST": UNREACHABLE_OLLAMA, "PYTHONPATH": str(ROOT), **extra}


def feed(path: Path, first: int, count: int) -> Path:
    """A JSON lines file of short articles (one chunk each), each with its own url."""
    lines = [
        json.dumps(
            {
                "url": f"https://news.example/{i}",
                "title": f"Council vote {i}",
                "date": f"2024-01-{1 + i % 28:02d}",
                "text": f"Town {i} voted on harbour measure {i} after a long debate about the ferry.",
            }
        )
        for i in range(first, first + count)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def start(*args: str | Path, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*QA, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(**extra),
        cwd=ROOT,
    )


def run(*args: str | Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QA, *map(str, args)], capture_output=True, text=True, env=env(**extra), cwd=ROOT, timeout=900
    )


def wait_for(condition: object, what: str, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def test_two_concurrent_ingests_of_one_file_leave_every_article_once_and_the_second_reports_them_unchanged(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    articles = feed(tmp_path / "feed.jsonl", 0, 500)
    index = tmp_path / "index"
    first = start("--index", index, "ingest", "--json", articles)
    begun = time.monotonic()
    wait_for(
        lambda: (index / HOLDER_FILE).exists() or first.poll() is not None or time.monotonic() - begun > 20,
        "the first ingest to take the lock",
    )
    second = start("--index", index, "ingest", "--json", articles)
    out1, err1 = first.communicate(timeout=900)
    out2, err2 = second.communicate(timeout=900)
    assert first.returncode == second.returncode == 0, err1 + err2
    reports = json.loads(out1), json.loads(out2)
    assert [(r["added"], r["unchanged"]) for r in reports] == [(500, 0), (0, 500)]
    assert err2.count(f"Waiting for another ingest of {index} to finish (pid {first.pid})") == 1, err2
    assert_consistent(Store(make_settings(index), embedder.name), 500)
    assert Assistant(make_settings(index), embedder=embedder).doctor().ok


def test_a_second_writer_fails_with_one_line_naming_qa_lock_timeout_after_it_waited(tmp_path: Path) -> None:
    from qa.index.locking import index_lock

    index = tmp_path / "index"
    settings = make_settings(index)
    with index_lock(settings).hold("ingest", 0):
        done = run("--index", index, "ingest", "--json", SEEDS, QA_LOCK_TIMEOUT="1")
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0] == f"Waiting for another ingest of {index} to finish (pid {os.getpid()})…"
    assert lines[-1].startswith(f"Error: Another ingest of the index at {index} (pid {os.getpid()}) was still running")
    assert "QA_LOCK_TIMEOUT" in lines[-1] and len(lines) == 2 and not done.stdout
    assert Store(settings, "all-MiniLM-L6-v2").count_articles() == 0


def test_a_second_writer_waits_for_the_lock_and_goes_on_once_it_is_free(tmp_path: Path) -> None:
    from qa.index.locking import index_lock

    index = tmp_path / "index"
    with index_lock(make_settings(index)).hold("remove", 0):
        waiting = start("--index", index, "ingest", "--json", SEEDS, QA_LOCK_TIMEOUT="600")
        assert waiting.stderr is not None
        said = waiting.stderr.readline()
        assert said == f"Waiting for another remove of {index} to finish (pid {os.getpid()})…\n"
        time.sleep(1)
        assert waiting.poll() is None  # still waiting while the lock is held
    out, err = waiting.communicate(timeout=600)
    assert waiting.returncode == 0, err
    assert json.loads(out)["added"] == 2


def test_a_reader_process_asking_while_another_process_ingests_never_sees_a_raw_error_and_then_sees_the_new_articles(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    index = tmp_path / "index"
    Assistant(make_settings(index), embedder=embedder).ingest([feed(tmp_path / "old.jsonl", 0, 100)])
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [*WRITERS, "reader", str(index), "What did town 1150 vote on?", "3", str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
        cwd=ROOT,
    )
    try:
        assert reader.stdout is not None
        first = json.loads(reader.stdout.readline() or '{"error": "the reader stopped"}')
        assert "error" not in first, first
        done = run("--index", index, "ingest", "--json", feed(tmp_path / "new.jsonl", 1000, 400))
        assert done.returncode == 0 and json.loads(done.stdout)["added"] == 400, done.stderr
        stop.touch()
        out, err = reader.communicate(timeout=300)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    answers = [json.loads(line) for line in out.splitlines()]
    errors = [a["error"] for a in answers if "error" in a]
    assert not errors and reader.returncode == 0, (errors[:3], err[-2000:])
    assert "https://news.example/1150" in answers[-1]["sources"]


def _break_with_a_stale_writer(tmp_path: Path, index: Path) -> None:
    """The state two writers without the lock leave, made deterministic: a process writes with the copy of the index
    it opened before another process wrote, and saves its vector index over the other's. Chroma saves it after every
    `sync_threshold` writes (1,000 by default), so the collections are made with a small one."""
    made = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, chromadb\n"
            "from chromadb.config import Settings\n"
            "c = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))\n"
            "config = {'hnsw': {'space': 'cosine', 'sync_threshold': 10, 'batch_size': 10}}\n"
            "c.create_collection('articles_chunks', metadata={'embedding_model': 'all-MiniLM-L6-v2', 'qa_schema': 2},"
            " configuration=config, embedding_function=None)\n"
            "c.create_collection('articles_catalog', metadata={'revision': 0}, configuration=config,"
            " embedding_function=None)\n",
            str(index),
        ],
        capture_output=True,
        text=True,
        env=env(),
        timeout=300,
    )
    assert made.returncode == 0, made.stderr
    assert run("--index", index, "ingest", "--json", feed(tmp_path / "a.jsonl", 0, 60)).returncode == 0
    ready, go = tmp_path / "ready", tmp_path / "go"
    stale = subprocess.Popen(
        [*WRITERS, "stale-writer", str(index), str(feed(tmp_path / "b.jsonl", 100, 60)), str(ready), str(go)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
        cwd=ROOT,
    )
    wait_for(lambda: ready.exists() or stale.poll() is not None, "the stale writer to open the index")
    assert run("--index", index, "ingest", "--json", feed(tmp_path / "c.jsonl", 200, 60)).returncode == 0
    go.touch()
    _, err = stale.communicate(timeout=600)
    assert stale.returncode == 0, err


def test_doctor_finds_the_index_two_unlocked_writers_broke_and_repair_makes_it_whole(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    index = tmp_path / "index"
    _break_with_a_stale_writer(tmp_path, index)
    asked = run("--index", index, "ask", "--json", "--mode", "extract", "What did town 205 vote on?")
    assert asked.returncode == 1 and "Traceback" not in asked.stderr
    assert "qa doctor --repair" in asked.stderr and len(asked.stderr.strip().splitlines()) == 1, asked.stderr

    check = run("--index", index, "doctor", "--json")
    assert check.returncode == 1, check.stderr
    found = json.loads(check.stdout)
    assert not found["ok"] and {p["check"] for p in found["problems"]} >= {"vectors"}
    assert found["remaining"] == found["problems"] and not found["fixed"]

    repaired = run("--index", index, "doctor", "--repair", "--json")
    assert repaired.returncode == 0, repaired.stderr
    report = json.loads(repaired.stdout)
    assert report["ok"] and report["problems"] and not report["remaining"] and report["fixed"]
    assert (report["articles"], report["chunks"]) == (180, 180)
    assert run("--index", index, "doctor").returncode == 0

    assert_consistent(Store(make_settings(index), embedder.name), 180)
    again = run("--index", index, "ingest", "--json", tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl")
    assert json.loads(again.stdout)["unchanged"] == 180  # the catalog kept each file's hash through the repair
    asked = run("--index", index, "ask", "--json", "--mode", "extract", "What did town 205 vote on?")
    assert asked.returncode == 0, asked.stderr
    assert any(c["source"] == "https://news.example/205" for c in json.loads(asked.stdout)["citations"])


def test_an_ingest_killed_with_sigkill_part_way_is_made_exact_by_the_next_run(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    from qa.index.locking import WRITES_FILE

    big = feed(tmp_path / "big.jsonl", 0, 900)  # batches of 256 chunks: the kill lands inside the file
    index = tmp_path / "index"
    marks: set[str] = set()

    def two_batches_written() -> bool:
        with contextlib.suppress(OSError):
            marks.add((index / WRITES_FILE).read_text())
        return len(marks) >= 2 or killed.poll() is not None

    killed = start("--index", index, "ingest", "--json", big)
    wait_for(two_batches_written, "two batches to be written")
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=60)
    assert killed.returncode == -signal.SIGKILL
    store = Store(make_settings(index), embedder.name)
    written = store.count_articles()
    assert 0 < written < 900

    rerun = run("--index", index, "ingest", "--json", big)
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert (report["unchanged"], report["added"], report["removed"]) == (written, 900 - written, 0)
    assert_consistent(store, 900)

    clean = make_settings(tmp_path / "clean")
    Assistant(clean, embedder=embedder).ingest([big])
    records = {(r.doc_id, r.chunks, r.file_articles) for r in store.articles()}
    assert records == {(r.doc_id, r.chunks, r.file_articles) for r in Store(clean, embedder.name).articles()}
    assert sorted(c.chunk_id for c in store.iter_chunks()) == sorted(
        c.chunk_id for c in Store(clean, embedder.name).iter_chunks()
    )
    assert Assistant(make_settings(index), embedder=embedder).doctor().ok
