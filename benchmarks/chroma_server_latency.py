"""Retrieval latency, embedded Chroma vs a Chroma server on loopback: `python benchmarks/chroma_server_latency.py`.

Indexes seeds/ twice (a temporary directory, and a `chroma run` started on a free loopback port), warms both up,
then times `Assistant.retrieve` for the questions of evals/seeds.jsonl, cycled to 50 queries, and prints p50 and
p95 per store. Both use the same encoder, so the difference is the store: HTTP round trips to the server
(dense query, revision and count checks, chunk lookups) against in-process calls. Figures only, no asserts.
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qa import Assistant, SentenceTransformerEmbedder, Settings

ROOT = Path(__file__).resolve().parents[1]
QUERIES = 50


def start_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("chroma")),
            "run",
            "--path",
            str(folder),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(600):
        try:
            chromadb.HttpClient(host="127.0.0.1", port=port, settings=ChromaSettings(anonymized_telemetry=False))
            return server, f"http://127.0.0.1:{port}"
        except Exception:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("chroma run did not answer within 120 s")


def timings(assistant: Assistant, questions: list[str]) -> list[float]:
    for question in questions[:3]:  # warm-up: BM25 built, encoder and connections warm
        assistant.retrieve(question)
    elapsed = []
    for i in range(QUERIES):
        started = time.perf_counter()
        assistant.retrieve(questions[i % len(questions)])
        elapsed.append((time.perf_counter() - started) * 1000)
    return elapsed


def main() -> None:
    lines = (ROOT / "evals" / "seeds.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    embedder = SentenceTransformerEmbedder()
    with tempfile.TemporaryDirectory() as tmp:
        server, url = start_server(Path(tmp) / "server")
        try:
            stores = {
                "embedded (PersistentClient)": Settings(index_dir=Path(tmp) / "index"),
                f"server ({url})": Settings(index_dir=Path(tmp) / "unused", chroma_url=url),
            }
            for name, settings in stores.items():
                assistant = Assistant(settings, embedder=embedder)
                assistant.ingest([ROOT / "seeds"])
                ms = sorted(timings(assistant, questions))
                p95 = ms[int(0.95 * (len(ms) - 1))]
                print(
                    f"{name:40s} retrieve p50 {statistics.median(ms):6.1f} ms  p95 {p95:6.1f} ms  ({QUERIES} queries)"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
