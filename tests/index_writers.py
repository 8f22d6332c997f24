"""Processes the concurrency tests start: a reader asking in a loop, and a writer that ignores the index lock.

Run as `python -m tests.index_writers reader INDEX QUESTION SECONDS` or `... stale-writer INDEX FILE READY GO`.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from qa import Assistant, QAError, Settings


def reader(index: str, question: str, seconds: float, stop: str) -> None:
    """Ask `question` until `stop` exists and `seconds` passed; print one JSON line per answer or error."""
    assistant = Assistant(Settings(index_dir=Path(index), ollama_host="http://127.0.0.1:9"))
    started = time.monotonic()
    while time.monotonic() - started < seconds or not Path(stop).exists():
        try:
            passages = assistant.retrieve(question, top_k=5)
            print(json.dumps({"sources": [p.source for p in passages]}), flush=True)
        except QAError as exc:  # one line we wrote: still a failure of the test, but not a raw one
            print(json.dumps({"error": f"QAError: {exc}"}), flush=True)
        except Exception as exc:  # the test reports any raw error
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        if Path(stop).exists() and time.monotonic() - started > seconds:
            break
        time.sleep(0.05)


@contextlib.contextmanager
def _no_lock(*args: object, **kwargs: object) -> Iterator[None]:
    yield


def stale_writer(index: str, file: str, ready: str, go: str) -> None:
    """Open the index, wait until told, then ingest `file` with the copy opened before, ignoring the lock: what two
    writers without the lock do to each other, made deterministic."""
    from qa.index.locking import IndexLock
    from qa.index.store import Store

    IndexLock.hold = _no_lock  # type: ignore[assignment,method-assign]
    Store.refresh = lambda self: False  # type: ignore[method-assign]
    assistant = Assistant(Settings(index_dir=Path(index), ollama_host="http://127.0.0.1:9"))
    assistant.store.count_chunks()
    assistant.store.chunks.get(limit=1, include=["embeddings"])  # the vector index is loaded into this process now
    Path(ready).touch()
    while not Path(go).exists():
        time.sleep(0.05)
    report = assistant.ingest([file])
    print(report.model_dump_json(), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "reader":
        reader(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5])
    else:
        stale_writer(*sys.argv[2:6])
