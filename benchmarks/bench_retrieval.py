"""Retrieval latency by index size: `python benchmarks/bench_retrieval.py [--sizes 1k,10k,full] [--questions N]`.

Indexes of ~1k and ~10k chunks are cut from a copy of the full RealTimeQA index (whole articles, their stored
vectors copied, nothing embedded again); "full" is the copy itself. Each size is measured in a fresh process,
so its peak RSS is its own: open the index, one first query (which builds the BM25 index and loads the vector
index), then for each question the query embedding alone (`Assistant.embedder.embed`), hybrid retrieval with the
query vector already computed (the assistant's encoder is wrapped to hand back cached vectors), the same with the
date filter the RealTimeQA eval uses (articles up to the quiz date), and retrieval end to end.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from bench_common import (
    Question,
    Section,
    Target,
    Workspace,
    dir_size,
    load_now,
    load_questions,
    log,
    ms,
    num,
    part_main,
    peak_rss_mb,
    percentile,
    prepare_environment,
    rss_parts_mb,
    run_child,
    secs,
)

TARGET_P50 = 0.050
TARGET_P95 = 0.150


class CachedEmbedder:
    """The assistant's encoder, but questions embedded beforehand come back from a table (no model call).

    Everything else (token counts, name, window) is the real encoder's, so retrieval behaves exactly as usual.
    """

    def __init__(self, real: Any) -> None:
        self.real = real
        self.vectors: dict[str, np.ndarray] = {}
        self.enabled = False
        self.misses = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    @property
    def dimension(self) -> int:
        return int(self.real.dimension)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.enabled and texts and all(t in self.vectors for t in texts):
            return np.stack([self.vectors[t] for t in texts])
        if self.enabled:
            self.misses += 1
        return np.asarray(self.real.embed(texts))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return list(self.real.count_tokens(texts))


def measure(index_dir: Path, questions: list[Question]) -> dict[str, Any]:
    """All timings for one index, in this process (run it in a fresh one: peak RSS is the process's)."""
    from qa import Assistant, SentenceTransformerEmbedder, Settings
    from qa.retrieval.hybrid import HybridRetriever

    settings = Settings(index_dir=index_dir, backend="embedded", chroma_url=None)
    started = time.perf_counter()
    embedder = CachedEmbedder(SentenceTransformerEmbedder(settings.embedding_model, settings.embed_batch_size))
    assistant = Assistant(settings, embedder=embedder)
    status = assistant.status(probe_backend=False)
    opened = time.perf_counter() - started

    started = time.perf_counter()
    embedder.embed(["warm up the encoder"])
    model_load = time.perf_counter() - started

    started = time.perf_counter()
    assistant.retrieve(questions[0].text)
    first = time.perf_counter() - started

    embed_times, plain, dated, end_to_end, passages = [], [], [], [], []
    for q in questions:
        started = time.perf_counter()
        embedder.vectors[q.text] = np.asarray(embedder.real.embed([q.text]))[0]
        embed_times.append(time.perf_counter() - started)
    # The retriever remembers recent retrievals (a repeated question is free): forget them before each one, so
    # every timing is a real retrieval.
    hybrid = assistant.retriever
    assert isinstance(hybrid, HybridRetriever)  # the assistant's own, built from the settings
    forget = hybrid.forget_recent
    embedder.enabled = True
    for q in questions:
        forget()
        started = time.perf_counter()
        passages.append(len(assistant.retrieve(q.text)))
        plain.append(time.perf_counter() - started)
    for q in questions:
        forget()
        started = time.perf_counter()
        assistant.retrieve(q.text, date_to=q.date)
        dated.append(time.perf_counter() - started)
    embedder.enabled = False
    for q in questions:
        forget()
        started = time.perf_counter()
        assistant.retrieve(q.text)
        end_to_end.append(time.perf_counter() - started)
    return {
        "chunks": status.chunks,
        "articles": status.articles,
        "open_s": opened,
        "model_load_s": model_load,
        "first_query_s": first,
        "embed": embed_times,
        "plain": plain,
        "dated": dated,
        "end_to_end": end_to_end,
        "passages": float(np.mean(passages)),
        "cache_misses": embedder.misses,
        "peak_rss_mb": peak_rss_mb(),
        "rss_now_mb": rss_parts_mb(),  # after every retrieval: what stays resident, by kind
    }


def child_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    args = parser.parse_args(argv)
    prepare_environment()
    rows = json.loads(args.questions.read_text(encoding="utf-8"))
    questions = [Question(q["text"], q["date"], tuple(q["candidates"]), q["gold"]) for q in rows]
    print(json.dumps(measure(args.index, questions)), flush=True)


def run(workspace: Workspace) -> Section:
    opts = workspace.opts
    questions = load_questions(opts.data, opts.questions)
    question_file = workspace.root / "retrieval-questions.json"
    question_file.write_text(json.dumps([q.to_json() for q in questions]), encoding="utf-8")
    section = Section("3. Retrieval")
    section.intro = (
        f"{len(questions)} RealTimeQA questions, evenly spread over the half-year, `top_k` 5 (defaults). "
        "Hybrid retrieval is `Assistant.retrieve` (dense through Chroma + BM25, fused); each size runs in its "
        'own process. "Excl. embedding" hands the retriever the query vector computed beforehand; '
        '"date filter" adds `date_to=<quiz date>` as the RealTimeQA eval does.'
    )
    rows, size_rows = [], []
    results: dict[str, dict[str, Any]] = {}
    for size in opts.retrieval_sizes:
        index_dir = workspace.index(size)
        on_disk = dir_size(index_dir)
        log(f"retrieval: {size} index ({on_disk / 1e6:.0f} MB), {len(questions)} questions")
        busy = load_now()
        started = time.perf_counter()
        result = run_child(
            [str(Path(__file__)), "--child", "--index", str(index_dir), "--questions", str(question_file)],
            timeout=3600,
        )
        result["disk_bytes"] = on_disk
        results[size] = result
        log(
            f"retrieval {size}: {result['chunks']} chunks, p50 {percentile(result['plain'], 50) * 1000:.1f} ms "
            f"excl. embedding, first query {result['first_query_s']:.1f} s "
            f"({time.perf_counter() - started:.0f} s in all)"
        )
        label = f"{size} ({num(result['chunks'])} chunks)"
        for name, key in (
            ("query embedding alone", "embed"),
            ("retrieval excl. embedding", "plain"),
            ("retrieval excl. embedding, date filter", "dated"),
            ("retrieval end to end (with embedding)", "end_to_end"),
        ):
            values = result[key]
            rows.append([label, name, ms(percentile(values, 50)), ms(percentile(values, 95)), ms(max(values))])
        size_rows.append(
            [
                label,
                num(result["articles"]),
                f"{on_disk / 1e6:,.0f} MB",
                f"{result['peak_rss_mb']:,.0f} MB",
                secs(result["open_s"]),
                secs(result["model_load_s"]),
                secs(result["first_query_s"]),
                busy,
            ]
        )
        if result["cache_misses"]:
            section.notes.append(
                f"{size}: {result['cache_misses']} retrievals asked the encoder for a vector it had not cached; "
                'their "excl. embedding" times include an embedding.'
            )
    section.table("Latency per question:", ["Index", "What", "p50", "p95", "max"], rows)
    section.table(
        "Index and process (load: the machine's 1-minute load average when the process started):",
        ["Index", "Articles", "Size on disk", "Peak RSS", "Open", "Encoder load", "First query (builds BM25)", "Load"],
        size_rows,
    )
    largest = max(results, key=lambda s: results[s]["chunks"]) if results else None
    if largest is not None:
        result = results[largest]
        p50, p95 = percentile(result["plain"], 50), percentile(result["plain"], 95)
        what = f"at {largest} ({num(result['chunks'])} chunks)"
        full = largest == "full"
        section.targets = [
            Target(f"Retrieval p50 excl. embedding, {what}", "≤ 50 ms at ~100k chunks", ms(p50), p50 <= TARGET_P50),
            Target(f"Retrieval p95 excl. embedding, {what}", "≤ 150 ms at ~100k chunks", ms(p95), p95 <= TARGET_P95),
        ]
        if not full:
            for target in section.targets:
                target.met = None
                target.measured += " (full size not run)"
    section.notes.append(
        "The full index holds every article of the RealTimeQA set (the largest index the data gives); "
        '"first query" builds the BM25 index from every chunk in the store, once per process and index revision.'
    )
    return section


if __name__ == "__main__":
    if "--child" in sys.argv:
        child_main(sys.argv[1:])
    else:
        part_main("retrieval", run)
