"""Scale benchmark (issue 15, item 2): one index grown in steps to ~500k chunks, measured at each step.

    python benchmarks/bench_scale.py --sizes 50k,100k,250k,500k --workdir DIR [--resume] [--out benchmarks/SCALE.md]
    python benchmarks/bench_scale.py --workdir DIR --profile        # where one retrieval's time goes, on DIR's index
    python benchmarks/bench_scale.py --workdir DIR --rebuild-last   # a true BM25 build at the last step (see below)
    python benchmarks/bench_scale.py --workdir DIR --report-only    # rewrite SCALE.md + SCALE.png from progress.json

At ~1,100 chunks/s for the fill and ~10 chunks/s for the real base ingest, the default run (100 base articles,
500k chunks) took ~20 minutes on 2 shared cores; --rebuild-last adds ~3 minutes and peaks at ~5 GB RSS.

How the index is built (read this before quoting a figure):

- Base: `--base-articles` RealTimeQA articles (a fixed sample) are ingested for real (`Assistant.ingest`: chunked,
  masked, embedded with the bundled MiniLM) into `<workdir>/index`. Their chunks' vectors, texts, spans and catalog
  records are read back from the store (`Store.articles`, `Store.article_texts`, `Store.chunk_embeddings`).
- Copies (the fast fill): copy k (k = 1, 2, ...) of every base article is written straight through
  `Store.add_chunks` / `Store.add_articles`, in batches of ~4,000 chunks, with
  - its own doc_id (hash of k and the base doc_id), chunk ids `doc_id:n`, a catalog record like ingest writes;
  - a perturbed text: ~20% of its words of 4+ letters are replaced, from a seeded RNG, by other words of the same
    length drawn from the base articles' own vocabulary (so the chunk spans stay valid and BM25's vocabulary stays
    the size a real archive has, but every copy's chunks have different term statistics); the title gets the same
    treatment plus an "(edition k)" tag;
  - a date k days *before* the base article's date (the archive grows into the past, as a real one does: a quiz's
    date filter "up to the quiz date" keeps most of it);
  - dense vectors = the base chunk's vector + Gaussian noise (sigma 0.015 per dimension, cosine ~0.96 to the base),
    renormalised. They are perturbations, NOT embeddings of the perturbed text: dense search sees 500k distinct
    vectors, but clustered in groups of near-duplicates (one group per base chunk), which is not what HNSW sees on
    500k real articles. BM25 sees 500k distinct chunks of realistic length and vocabulary.
- Ingest rate: before the first fill (base index only) and after the largest step, the same 20 source articles
  (not in the base), as a distinct perturbed copy each time (new ids, new text), are written to a JSON lines file
  and ingested for real by `Assistant.ingest` in a fresh process with the encoder and Chroma's vector index already
  loaded (both once per process; the vector index's load is timed and reported apart). The rate is
  chunks / `IngestReport.seconds` (reading, chunking, embedding, writing). `Assistant.ingest` then rebuilds the
  retriever's BM25 index of the whole store; that time is reported apart (it grows with the index).
- At each step, in fresh processes: (1) the first retrieval, which builds the BM25 index from every chunk in the
  store and saves it to `<index>/cache/` (its time and the process's peak RSS); (2) `bench_retrieval.measure`: the
  saved cache loaded, then `--questions` RealTimeQA questions timed without the query embedding (vectors computed
  beforehand), with the date filter `date_to=<quiz date>`, and end to end; its peak RSS is the serving RSS;
  (3) a fresh `qa --backend embedded ask --mode extract` (the cache already built): seconds to its printed answer;
  (4) the index directory's size on disk (Chroma + the BM25 cache).
- At the last step the end ingest has already built the BM25 cache, so that step's "BM25 build" is only a load:
  `--rebuild-last` drops the cache and times a real build in a fresh process.
- `--profile` times each part of a retrieval alone (fingerprint, BM25, dense, vectors of the BM25 hits).
- progress.json may hold `notes` (observations measured by hand, each saying how) and `repeat` (a second
  `--child measure` result at the last step); the report prints them, and the targets take the worse run.
- Progress is written to `<workdir>/progress.json` after each step; `--resume` continues from the last completed
  step (copies are upserted, so a step interrupted half-way is simply written again).
The machine is shared (2 cores); heavy work runs under `nice`, and the load average is recorded with each step.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from bench_common import (
    DEFAULT_DATA,
    SEED,
    Question,
    Section,
    Target,
    dir_size,
    load_articles,
    load_now,
    load_questions,
    log,
    machine_info,
    machine_lines,
    ms,
    num,
    peak_rss_mb,
    percentile,
    prepare_environment,
    run_child,
    secs,
    size_chunks,
)

TARGET_P50 = 0.020
TARGET_P95 = 0.050
TARGET_RSS_MB = 2048
TARGET_FIRST_ANSWER = 5.0
TARGET_INGEST_RATIO = 0.9
BATCH_CHUNKS = 4000
NOISE = 0.015
SWAP_SHARE = 0.2
RATE_ARTICLES = 20
WORD = re.compile(r"[A-Za-z]{4,}")


# --- base articles and their copies ---------------------------------------------------------------


@dataclass
class Base:
    doc_id: str
    title: str
    date: str | None
    source: str
    key: str
    text: str
    spans: list[tuple[int, int]]
    vectors: np.ndarray  # (chunks, 384)
    words: list[tuple[int, int]]  # positions of the words that may be swapped


def settings_for(index_dir: Path) -> Any:
    from qa import Settings

    return Settings(index_dir=index_dir, backend="embedded", chroma_url=None)


def pick_articles(data: Path, base: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The base sample and, apart from it, the RATE_ARTICLES articles ingested to time the ingest rate."""
    articles = [a for a in load_articles(data) if len(a.get("text") or "") > 500]
    order = list(range(len(articles)))
    random.Random(SEED).shuffle(order)
    picked = [articles[i] for i in order[: base + RATE_ARTICLES]]
    return picked[:base], picked[base:]


def perturbed(text: str, words: list[tuple[int, int]], pool: dict[int, list[str]], rng: random.Random) -> str:
    """`text` with SWAP_SHARE of its words replaced by words of the same length (offsets unchanged)."""
    if not words:
        return text
    chosen = sorted(rng.sample(range(len(words)), max(1, int(len(words) * SWAP_SHARE))))
    out, last = [], 0
    for n in chosen:
        start, end = words[n]
        candidates = pool.get(end - start)
        if not candidates:
            continue
        out.append(text[last:start])
        replacement = candidates[rng.randrange(len(candidates))]
        out.append(replacement.capitalize() if text[start].isupper() else replacement)
        last = end
    out.append(text[last:])
    return "".join(out)


def word_pool(texts: list[str]) -> dict[int, list[str]]:
    pool: dict[int, set[str]] = {}
    for text in texts:
        for word in WORD.findall(text):
            pool.setdefault(len(word), set()).add(word.lower())
    return {length: sorted(words) for length, words in pool.items()}


def shifted(date: str | None, days: int) -> str | None:
    if not date:
        return None
    from datetime import date as Date
    from datetime import timedelta

    return (Date.fromisoformat(date) - timedelta(days=days)).isoformat()


def read_base(index_dir: Path, folder: Path) -> list[Base]:
    from qa import SentenceTransformerEmbedder  # for its name only: nothing is loaded
    from qa.index.layout import chunk_id
    from qa.index.store import Store

    settings = settings_for(index_dir)
    store = Store(settings, SentenceTransformerEmbedder(settings.embedding_model).name)
    records = store.articles()
    texts = store.article_texts([r.doc_id for r in records])
    bases = []
    for record in sorted(records, key=lambda r: r.doc_id):
        if not record.file.startswith(str(folder.resolve())) or record.doc_id not in texts:
            continue
        text, spans = texts[record.doc_id]
        ids = [chunk_id(record.doc_id, n) for n in range(len(spans))]
        found = store.chunk_embeddings(ids)
        if len(found) != len(ids):
            continue
        vectors = np.stack([found[i] for i in ids])
        words = [m.span() for m in WORD.finditer(text)]
        bases.append(
            Base(record.doc_id, record.title, record.date, record.source, record.key, text, spans, vectors, words)
        )
    return bases


class Filler:
    """Writes copies of the base articles through the Store, copy after copy, until a chunk count is reached."""

    def __init__(self, index_dir: Path, bases: list[Base]) -> None:
        from qa import SentenceTransformerEmbedder
        from qa.index.store import Store

        settings = settings_for(index_dir)
        self.store = Store(settings, SentenceTransformerEmbedder(settings.embedding_model).name)
        self.bases = bases
        self.pool = word_pool([b.text for b in bases])
        self.per_copy = sum(len(b.spans) for b in bases)

    def copy_batches(self, k: int) -> Any:
        from qa.index.layout import ArticleRecord, chunk_id

        rng = random.Random(f"{SEED}-{k}")
        noise = np.random.default_rng([SEED, k])
        chunk_ids: list[str] = []
        vectors: list[np.ndarray] = []
        records, texts, spans, article_vectors = [], [], [], []
        for base in self.bases:
            doc_id = hashlib.sha1(f"{k}\n{base.doc_id}".encode()).hexdigest()[:16]
            text = perturbed(base.text, base.words, self.pool, rng)
            title_words = [m.span() for m in WORD.finditer(base.title)]
            title = f"{perturbed(base.title, title_words, self.pool, rng)} (edition {k})"
            moved = base.vectors + noise.normal(0.0, NOISE, base.vectors.shape).astype(np.float32)
            moved /= np.linalg.norm(moved, axis=1, keepdims=True)
            mean = moved.mean(axis=0)
            chunk_ids += [chunk_id(doc_id, n) for n in range(len(base.spans))]
            vectors.append(moved)
            records.append(
                ArticleRecord(
                    doc_id=doc_id,
                    file=f"scale://copy-{k}",
                    key=f"{base.key}#copy-{k}",
                    file_hash="",
                    source=base.source,
                    title=title,
                    date=shifted(base.date, k),
                    chunks=len(base.spans),
                    chars=len(text),
                )
            )
            texts.append(text)
            spans.append(base.spans)
            article_vectors.append(mean / (float(np.linalg.norm(mean)) or 1.0))
            if len(chunk_ids) >= BATCH_CHUNKS:
                yield chunk_ids, np.concatenate(vectors), records, texts, spans, article_vectors
                chunk_ids, vectors, records, texts, spans, article_vectors = [], [], [], [], [], []
        if chunk_ids:
            yield chunk_ids, np.concatenate(vectors), records, texts, spans, article_vectors

    def write_copy(self, k: int) -> tuple[int, float]:
        """Copy k of every base article; (chunks written, seconds)."""
        started = time.perf_counter()
        written = 0
        with self.store.writing("scale fill"):
            for chunk_ids, vectors, records, texts, spans, article_vectors in self.copy_batches(k):
                self.store.add_chunks(chunk_ids, vectors)
                self.store.add_articles(records, texts, spans, article_vectors)
                written += len(chunk_ids)
            self.store.bump_revision()
        return written, time.perf_counter() - started


# --- children (fresh processes) -------------------------------------------------------------------


def child_ingest(index_dir: Path, folder: Path) -> dict[str, Any]:
    """A real ingest of the JSON lines files in `folder`, the encoder loaded beforehand."""
    from qa import Assistant

    assistant = Assistant(settings_for(index_dir))
    vector = np.asarray(assistant.embedder.embed(["warm up the encoder"])[0])
    before = assistant.store.count_chunks()
    # Chroma loads the vector index into the process at its first query or write (~3 s at 500k chunks): a cost
    # per process, like the encoder's load, timed here apart from the ingest (a `qa watch` process pays it once).
    started = time.perf_counter()
    if before:
        assistant.store.nearest(vector, 1)
    index_load = time.perf_counter() - started
    started = time.perf_counter()
    report = assistant.ingest([folder])
    total = time.perf_counter() - started
    return {
        "index_load_s": index_load,
        "chunks_before": before,
        "chunks": report.chunks,
        "articles": report.added,
        "ingest_s": report.seconds,
        "total_s": total,
        "rate": report.chunks / report.seconds if report.seconds else math.nan,
        "peak_rss_mb": peak_rss_mb(),
    }


def child_build(index_dir: Path, question: str) -> dict[str, Any]:
    """The first retrieval in a fresh process: builds (or loads) the BM25 index of the whole store."""
    from qa import Assistant

    assistant = Assistant(settings_for(index_dir))
    assistant.embedder.embed(["warm up the encoder"])
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    assistant.retrieve(question)
    return {
        "first_s": time.perf_counter() - started,
        "chunks": assistant.store.count_chunks(),
        "rss_before_mb": rss_before,
        "peak_rss_mb": peak_rss_mb(),
    }


def child_profile(index_dir: Path, questions: list[Question]) -> dict[str, Any]:
    """Where one retrieval's time goes: each part the retriever calls, timed alone per question (cache loaded)."""
    from qa import Assistant
    from qa.retrieval.hybrid import bm25_for

    assistant = Assistant(settings_for(index_dir))
    store = assistant.store
    vectors = np.asarray(assistant.embedder.embed([q.text for q in questions]))
    corpus = bm25_for(store)
    candidates = assistant.settings.candidates
    parts: dict[str, list[float]] = {"fingerprint": [], "bm25": [], "bm25_dated": [], "dense": [], "dense_dated": []}
    parts["lexical_vectors"] = []
    for q, vector in zip(questions, vectors):
        started = time.perf_counter()
        store.fingerprint()
        parts["fingerprint"].append(time.perf_counter() - started)
        started = time.perf_counter()
        lexical = corpus.search(q.text, candidates, None, None)
        parts["bm25"].append(time.perf_counter() - started)
        mask = corpus.date_mask(None, q.date)
        started = time.perf_counter()
        corpus.search(q.text, candidates, None, q.date, mask)
        parts["bm25_dated"].append(time.perf_counter() - started)
        started = time.perf_counter()
        dense = store.nearest(vector, candidates)
        parts["dense"].append(time.perf_counter() - started)
        started = time.perf_counter()
        assistant.retriever._dense(corpus, vector, candidates, mask, None, q.date)  # type: ignore[attr-defined]
        parts["dense_dated"].append(time.perf_counter() - started)
        found = {i for i, _ in dense}
        started = time.perf_counter()
        store.chunk_embeddings([i for i in lexical if i not in found])
        parts["lexical_vectors"].append(time.perf_counter() - started)
    return {"chunks": len(corpus.ids), "parts": parts, "peak_rss_mb": peak_rss_mb()}


def child_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=["ingest", "build", "measure", "profile"], required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--questions", type=Path)
    parser.add_argument("--question", default="")
    args = parser.parse_args(argv)
    prepare_environment()
    if args.child == "ingest":
        result = child_ingest(args.index, args.folder)
    elif args.child == "build":
        result = child_build(args.index, args.question)
    else:
        from bench_retrieval import measure

        rows = json.loads(args.questions.read_text(encoding="utf-8"))
        questions = [Question(q["text"], q["date"], tuple(q["candidates"]), q["gold"]) for q in rows]
        result = child_profile(args.index, questions) if args.child == "profile" else measure(args.index, questions)
    print(json.dumps(result), flush=True)


def child(*args: str, timeout: float = 3600) -> dict[str, Any]:
    return run_child([str(Path(__file__)), *args], timeout=timeout)


# --- the run --------------------------------------------------------------------------------------


def rate_corpus(articles: list[dict[str, Any]], folder: Path, tag: str, pool: dict[int, list[str]]) -> Path:
    """The rate articles as a distinct copy (tag): perturbed text and title, so every id and chunk is new."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"{SEED}-rate-{tag}")
    lines = []
    for article in articles:
        text = str(article["text"])
        title = str(article.get("title") or "")
        copy = dict(article)
        copy["id"] = f"{article['id']}-{tag}"
        copy["url"] = f"{article.get('url', '')}#{tag}"
        copy["text"] = perturbed(text, [m.span() for m in WORD.finditer(text)], pool, rng)
        copy["title"] = perturbed(title, [m.span() for m in WORD.finditer(title)], pool, rng)
        lines.append(json.dumps(copy, ensure_ascii=False))
    (folder / f"rate-{tag}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def measure_ingest(index_dir: Path, work: Path, tag: str, articles: list[dict[str, Any]], pool: Any) -> dict[str, Any]:
    folder = rate_corpus(articles, work / f"rate-{tag}", tag, pool)
    log(f"ingest rate ({tag}): {len(articles)} articles ingested for real")
    result = child("--child", "ingest", "--index", str(index_dir), "--folder", str(folder))
    result["load"] = load_now()
    log(
        f"ingest rate ({tag}): {result['chunks']} chunks in {result['ingest_s']:.1f} s = {result['rate']:.1f} "
        f"chunks/s at {result['chunks_before']} chunks; BM25 rebuild after it: "
        f"{result['total_s'] - result['ingest_s']:.1f} s"
    )
    return result


def measure_step(index_dir: Path, work: Path, questions: list[Question], label: str) -> dict[str, Any]:
    from bench_coldstart import time_ask

    question_file = work / "questions.json"
    question_file.write_text(json.dumps([q.to_json() for q in questions]), encoding="utf-8")
    step: dict[str, Any] = {"label": label, "load": load_now()}
    started = time.perf_counter()
    step["build"] = child("--child", "build", "--index", str(index_dir), "--question", questions[0].text)
    built = step["build"]
    log(f"{label}: first retrieval (BM25 build) {built['first_s']:.1f} s, peak RSS {built['peak_rss_mb']:.0f} MB")
    step["retrieval"] = child("--child", "measure", "--index", str(index_dir), "--questions", str(question_file))
    r = step["retrieval"]
    plain = "/".join(f"{percentile(r['plain'], q) * 1000:.1f}" for q in (50, 95))
    dated = "/".join(f"{percentile(r['dated'], q) * 1000:.1f}" for q in (50, 95))
    log(f"{label}: p50/p95 excl. embedding {plain} ms, dated {dated} ms, RSS {r['peak_rss_mb']:.0f} MB")
    ask = time_ask(index_dir, questions[1].text, ["--backend", "embedded"], ["--mode", "extract"])
    step["ask"] = ask
    log(f"{label}: fresh `qa ask --mode extract` answered in {ask['answer_s']:.2f} s")
    step["disk_bytes"] = dir_size(index_dir)
    step["cache_bytes"] = dir_size(index_dir / "cache") if (index_dir / "cache").exists() else 0
    step["chunks"] = r["chunks"]
    step["articles"] = r["articles"]
    step["seconds"] = time.perf_counter() - started
    return step


def ingest_again(args: argparse.Namespace) -> None:
    """The start and end ingest rates measured again, the earlier ones kept beside them (`*_before`).

    Start: the base corpus ingested for real into a fresh `<workdir>/index-start`, then the rate articles. End: the
    workdir's grown index as it is; a first retrieval brings its BM25 cache up to date before, so the ingest's
    "after it" time is what this ingest adds. Start and end alternate `--rounds` times, each with a fresh copy of
    the rate articles, so both see the same load on a shared machine; the run of median rate stands for each."""
    work: Path = args.workdir
    progress_file = work / "progress.json"
    progress = json.loads(progress_file.read_text(encoding="utf-8"))
    _, rate_articles = pick_articles(args.data, args.base_articles)
    bases = read_base(work / "index", work / "base-corpus")
    pool = word_pool([b.text for b in bases])
    for key in ("ingest_start", "ingest_end"):
        progress.setdefault(f"{key}_before", progress.get(key))
    start_index = work / "index-start"
    if start_index.exists():
        import shutil

        shutil.rmtree(start_index)
    log("start: ingesting the base corpus for real into a fresh index")
    child("--child", "ingest", "--index", str(start_index), "--folder", str(work / "base-corpus"))
    question = load_questions(args.data, 1)[0].text
    built = child("--child", "build", "--index", str(work / "index"), "--question", question)
    log(f"end: first retrieval before the ingests took {built['first_s']:.1f} s (BM25 cache brought up to date)")
    runs: dict[str, list[dict[str, Any]]] = {"start": [], "end": []}
    for _ in range(args.rounds):
        round_ = int(progress.get("ingest_rounds", 1)) + 1
        progress["ingest_rounds"] = round_
        runs["start"].append(measure_ingest(start_index, work, f"start{round_}", rate_articles, pool))
        runs["end"].append(measure_ingest(work / "index", work, f"end{round_}", rate_articles, pool))
    for name, measured in runs.items():
        progress[f"ingest_{name}_runs"] = measured
        progress[f"ingest_{name}"] = sorted(measured, key=lambda r: r["rate"])[len(measured) // 2]
    progress_file.write_text(json.dumps(progress, indent=1), encoding="utf-8")
    write_report(progress, args)


def measure_last(args: argparse.Namespace) -> None:
    """The last step measured again on the workdir's index as it is; its earlier figures stay under "before"."""
    work: Path = args.workdir
    progress_file = work / "progress.json"
    progress = json.loads(progress_file.read_text(encoding="utf-8"))
    old = progress["steps"][-1]
    step = measure_step(work / "index", work, load_questions(args.data, args.questions), old["label"])
    step["before"] = old.get("before") or {k: old[k] for k in ("retrieval", "ask", "build", "disk_bytes", "load")}
    progress["steps"][-1] = step
    progress_file.write_text(json.dumps(progress, indent=1), encoding="utf-8")
    write_report(progress, args)


def nice_self() -> None:
    import contextlib
    import os

    with contextlib.suppress(OSError):
        os.nice(10)


def run(args: argparse.Namespace) -> None:
    work: Path = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    index_dir = work / "index"
    progress_file = work / "progress.json"
    command = "python " + " ".join(sys.argv)
    progress: dict[str, Any] = {"copies": 0, "steps": [], "fills": [], "command": command}
    if progress_file.exists():
        if not args.resume:
            raise SystemExit(f"{work} already holds a run; pass --resume to continue it, or another --workdir")
        progress = json.loads(progress_file.read_text(encoding="utf-8"))
    sizes = [(s, size_chunks(s) or 0) for s in args.sizes.split(",") if s.strip()]
    questions = load_questions(args.data, args.questions)
    base_articles, rate_articles = pick_articles(args.data, args.base_articles)

    def save() -> None:
        progress_file.write_text(json.dumps(progress, indent=1), encoding="utf-8")
        write_report(progress, args)

    folder = work / "base-corpus"
    if "base" not in progress:
        from bench_ingest import write_corpus

        write_corpus(base_articles, folder, 4)
        log(f"base: ingesting {len(base_articles)} articles for real (MiniLM)")
        progress["base"] = child("--child", "ingest", "--index", str(index_dir), "--folder", str(folder))
        log(f"base: {progress['base']['chunks']} chunks in {progress['base']['ingest_s']:.0f} s")
        save()
    bases = read_base(index_dir, folder)
    filler = Filler(index_dir, bases)
    log(f"base: {len(bases)} articles, {filler.per_copy} chunks per copy")
    if "ingest_start" not in progress:
        progress["ingest_start"] = measure_ingest(index_dir, work, "start", rate_articles, filler.pool)
        save()

    done_labels = {s["label"] for s in progress["steps"]}
    for label, target in sizes:
        if label in done_labels:
            continue
        while filler.store.count_chunks() < target:
            k = progress["copies"] + 1
            before = filler.store.count_chunks()
            written, seconds = filler.write_copy(k)
            progress["copies"] = k
            progress["fills"].append({"copy": k, "chunks_before": before, "written": written, "seconds": seconds})
            progress_file.write_text(json.dumps(progress, indent=1), encoding="utf-8")
            rate = written / seconds
            log(f"fill: copy {k}, {written} chunks in {seconds:.1f} s ({rate:,.0f}/s), now {before + written:,}")
        if label == sizes[-1][0] and "ingest_end" not in progress:
            progress["ingest_end"] = measure_ingest(index_dir, work, "end", rate_articles, filler.pool)
            save()
        filler.store.close()
        progress["steps"].append(measure_step(index_dir, work, questions, label))
        save()
    log("done")


# --- the report -----------------------------------------------------------------------------------


def write_report(progress: dict[str, Any], args: argparse.Namespace) -> None:
    """SCALE.md and SCALE.png from the run's progress, and the progress itself as SCALE.json (what
    `benchmarks/run.py` shows in RESULTS.md without growing the index again)."""
    progress["report"] = {"base_articles": args.base_articles, "questions": args.questions, "sizes": args.sizes}
    section = scale_section(progress, args.out.with_suffix(".png"))
    info = machine_info()
    command = progress.get("command") or "python " + " ".join(sys.argv)
    head = [f"# Benchmark: {section.title}", "", *machine_lines(info, command), ""]
    args.out.write_text("\n".join(head) + "\n" + section.markdown(), encoding="utf-8")
    args.out.with_suffix(".json").write_text(json.dumps(progress, indent=1), encoding="utf-8")


RECORDED = Path(__file__).with_name("SCALE.json")


def recorded(path: Path = RECORDED) -> Section:
    """The scale section of the last recorded run (SCALE.json), for RESULTS.md: growing the index takes ~25
    minutes, so `make bench` shows the recorded figures and `make bench-scale` measures them again."""
    if not path.exists():
        section = Section("Scale: one index grown to ~500k chunks")
        section.notes.append("No recorded run: `make bench-scale` measures one (about 25 minutes).")
        return section
    progress = json.loads(path.read_text(encoding="utf-8"))
    section = scale_section(progress, None)
    section.intro = (
        f"Recorded by `{progress.get('command', 'python benchmarks/bench_scale.py')}` (see "
        "[SCALE.md](SCALE.md) for the machine, the date and every table); not measured again by this run. "
        + section.intro
    )
    section.tables = [t for t in section.tables if not t[0].startswith("Fast fill")]
    section.notes = [n for n in section.notes if n.startswith("Plot")]
    return section


def scale_section(progress: dict[str, Any], plot_path: Path | None) -> Section:
    """The report of a run (`plot_path`: where to draw the plot; None: link the existing SCALE.png)."""
    args = argparse.Namespace(**progress.get("report", {"base_articles": 100, "questions": 50, "sizes": "500k"}))
    steps = progress.get("steps", [])
    section = Section("Scale: one index grown to ~500k chunks")
    section.seconds = sum(f["seconds"] for f in progress.get("fills", [])) + sum(
        s["seconds"] for s in progress.get("steps", [])
    )
    base = progress.get("base")
    section.intro = (
        f"Base: {base['chunks'] if base else '?'} chunks of "
        f"{args.base_articles} RealTimeQA articles embedded for real, then copies written straight through the Store "
        "(perturbed text and title, dates shifted, vectors = base vectors + noise; see the script's docstring). "
        f"{args.questions} questions per step, top_k 5; every measurement in a fresh process."
    )
    fills = progress.get("fills", [])
    if fills:
        rows = []
        sample = fills[:: max(1, len(fills) // 12)]
        for fill in sample + ([fills[-1]] if fills[-1] is not sample[-1] else []):
            rows.append(
                [
                    str(fill["copy"]),
                    num(fill["chunks_before"]),
                    num(fill["written"] / fill["seconds"]),
                ]
            )
        section.table(
            "Fast fill (Store.add_chunks + add_articles), a sample of the copies:",
            ["Copy", "Chunks before", "Chunks/s"],
            rows,
        )
    rates = [
        (name, progress[key])
        for name, key in (
            ("start, before", "ingest_start_before"),
            ("end, before", "ingest_end_before"),
            ("start", "ingest_start"),
            ("end", "ingest_end"),
        )
        if progress.get(key)
    ]
    if rates:
        section.table(
            f"Real ingest (`Assistant.ingest`, {RATE_ARTICLES} fresh articles, MiniLM, fresh process):",
            [
                "When",
                "Index before",
                "Vector index load, before",
                "Chunks",
                "Ingest",
                "Chunks/s",
                "BM25 after it",
                "Peak RSS",
                "Load",
            ],
            [
                [
                    name,
                    num(r["chunks_before"]),
                    secs(r["index_load_s"]) if "index_load_s" in r else "in the ingest",
                    num(r["chunks"]),
                    secs(r["ingest_s"]),
                    num(r["rate"], 1),
                    secs(r["total_s"] - r["ingest_s"]),
                    f"{r['peak_rss_mb']:,.0f} MB",
                    str(r.get("load", "")),
                ]
                for name, r in rates
            ],
        )
    if progress.get("ingest_start_runs"):
        section.notes.append(
            "Start and end ingests alternated, a fresh copy of the articles each time (median run in the table): "
            + "; ".join(
                name + " " + ", ".join(f"{r['rate']:.1f}" for r in progress[f"ingest_{name}_runs"]) + " chunks/s"
                for name in ("start", "end")
            )
            + "."
        )
    rows = []
    for s in steps:
        r = s["retrieval"]
        rows.append(
            [
                f"{s['label']} ({num(s['chunks'])})",
                ms(percentile(r["plain"], 50)),
                ms(percentile(r["plain"], 95)),
                ms(percentile(r["dated"], 50)),
                ms(percentile(r["dated"], 95)),
                ms(percentile(r["end_to_end"], 50)),
                f"{r['peak_rss_mb']:,.0f} MB",
                secs(r["first_query_s"]),
                secs(s["build"]["first_s"]),
                f"{s['build']['peak_rss_mb']:,.0f} MB",
                secs(s["ask"]["answer_s"]),
                f"{s['disk_bytes'] / 1e9:.2f} GB",
                f"{s['cache_bytes'] / 1e6:,.0f} MB",
                s["load"],
            ]
        )
    if rows:
        section.table(
            "Per step (retrieval excl. the query embedding; dated: `date_to=<quiz date>`; RSS: serving process, "
            "cache loaded; build: first retrieval building BM25 from the store; ask: fresh `qa ask --mode extract`):",
            [
                "Index (chunks)",
                "p50",
                "p95",
                "p50 dated",
                "p95 dated",
                "p50 end to end",
                "Serving RSS",
                "First query, cache loaded",
                "BM25 build",
                "Build peak RSS",
                "First answer",
                "Disk",
                "of which BM25 cache",
                "Load",
            ],
            rows,
        )
    if steps and "ingest_end" in progress and not steps[-1]["build"].get("rebuilt"):
        section.notes.append(
            'At the last step the end ingest had already built the BM25 cache, so its "BM25 build" is a cache '
            "load; the build's time is the end ingest's \"BM25 rebuild after it\"."
        )
    if steps:
        last = steps[-1]
        r = last["retrieval"]
        what = f"at {num(last['chunks'])} chunks"
        p50, p95 = percentile(r["plain"], 50), percentile(r["plain"], 95)
        d50, d95 = percentile(r["dated"], 50), percentile(r["dated"], 95)
        section.targets = [
            Target(f"Retrieval p50 excl. embedding {what}", "≤ 20 ms", ms(p50), p50 <= TARGET_P50),
            Target(f"Retrieval p95 excl. embedding {what}", "≤ 50 ms", ms(p95), p95 <= TARGET_P95),
            Target(f"… with the date filter, p50 {what}", "≤ 20 ms", ms(d50), d50 <= TARGET_P50),
            Target(f"… with the date filter, p95 {what}", "≤ 50 ms", ms(d95), d95 <= TARGET_P95),
            Target(f"Serving RSS {what}", "≤ 2 GB", rss_text(r), r["peak_rss_mb"] <= TARGET_RSS_MB),
            Target(
                f"Fresh process to first answer {what}",
                "≤ 5 s",
                secs(last["ask"]["answer_s"]),
                last["ask"]["answer_s"] <= TARGET_FIRST_ANSWER,
            ),
        ]
        before = last.get("before")
        if before:
            b = before["retrieval"]
            section.table(
                f"The last step measured again ({num(last['chunks'])} chunks; before: "
                f"{num(b['chunks'])} chunks, the code of the first run):",
                ["Figure", "Before", "Now"],
                [
                    ["p50 / p95 excl. embedding", p50_95(b["plain"]), p50_95(r["plain"])],
                    ["p50 / p95 dated", p50_95(b["dated"]), p50_95(r["dated"])],
                    ["Serving RSS", rss_text(b), rss_text(r)],
                    ["First answer, fresh `qa ask`", secs(before["ask"]["answer_s"]), secs(last["ask"]["answer_s"])],
                    ["Disk", f"{before['disk_bytes'] / 1e9:.2f} GB", f"{last['disk_bytes'] / 1e9:.2f} GB"],
                    ["Load", str(before.get("load", "")), str(last.get("load", ""))],
                ],
            )
        repeat = progress.get("repeat")  # a second measuring run at the last step: the verdict takes the worse
        if repeat and repeat.get("chunks") == last["chunks"]:
            again = [
                ms(percentile(repeat["plain"], 50)),
                ms(percentile(repeat["plain"], 95)),
                ms(percentile(repeat["dated"], 50)),
                ms(percentile(repeat["dated"], 95)),
                f"{repeat['peak_rss_mb']:,.0f} MB",
            ]
            worse = [
                percentile(repeat["plain"], 50) <= TARGET_P50,
                percentile(repeat["plain"], 95) <= TARGET_P95,
                percentile(repeat["dated"], 50) <= TARGET_P50,
                percentile(repeat["dated"], 95) <= TARGET_P95,
                repeat["peak_rss_mb"] <= TARGET_RSS_MB,
            ]
            for target, value, met in zip(section.targets, again, worse):
                target.measured += f"; repeat {value}"
                target.met = bool(target.met and met)
        if "ingest_start" in progress and "ingest_end" in progress:
            start, end = progress["ingest_start"]["rate"], progress["ingest_end"]["rate"]
            section.targets.append(
                Target(
                    "Ingest rate end / start",
                    "≥ 0.9×",
                    f"{end / start:.2f}× ({end:.1f} vs {start:.1f} chunks/s)",
                    end / start >= TARGET_INGEST_RATIO,
                )
            )
        largest = max(size_chunks(s) or 0 for s in args.sizes.split(","))
        if last["chunks"] < 0.95 * largest:
            for target in section.targets:
                target.measured += f" (largest size reached: {num(last['chunks'])} of {num(largest)})"
        if plot_path is not None:
            plot(steps, plot_path)
        section.notes.append(f"Plot: ![scale]({plot_path.name if plot_path else 'SCALE.png'})")
    section.notes += [
        "Serving RSS includes the query encoder (MiniLM) the process loads; the BM25 cache's texts are "
        "memory-mapped and count only as far as they are read.",
        "Dense vectors of the copies are perturbations of real MiniLM vectors (noise, renormalised), not embeddings "
        "of the perturbed texts; HNSW sees clusters of near-duplicates. BM25 sees distinct texts of real length "
        "and vocabulary (same-length word swaps from the base vocabulary).",
        "The ingest rate counts `IngestReport.seconds` (read, chunk, embed, write); `Assistant.ingest` then "
        "rebuilds the BM25 index of the whole store, shown apart: that part grows with the index.",
        "The machine is shared with another engineer's test runs (2 cores, the load column): absolute figures are "
        "pessimistic, and noisy between steps.",
    ]
    # Observations measured by hand on the same index (how, in each note), kept in progress.json under "notes".
    section.notes += [str(note) for note in progress.get("notes", [])]
    _profile_table(section, progress)
    return section


def _profile_table(section: Section, progress: dict[str, Any]) -> None:
    profile = progress.get("profile")
    if profile:
        names = {
            "fingerprint": "index fingerprint (revision + chunk count)",
            "bm25": "BM25 search (bm25s)",
            "bm25_dated": "BM25 search, date filter",
            "dense": "dense search (Chroma HNSW)",
            "dense_dated": "dense search, date filter (as the retriever does it)",
            "lexical_vectors": "vectors of the BM25 hits (Chroma get by ids)",
        }
        section.tables.append(
            (
                f"Where a retrieval's time goes at {num(profile['chunks'])} chunks (each part timed alone, "
                "`--profile`):",
                ["Part", "p50", "p95"],
                [[names.get(k, k), ms(percentile(v, 50)), ms(percentile(v, 95))] for k, v in profile["parts"].items()],
            ),
        )


def p50_95(times: list[float]) -> str:
    return f"{ms(percentile(times, 50))} / {ms(percentile(times, 95))}"


def rss_text(result: dict[str, Any]) -> str:
    """Peak RSS, and what stayed resident at the end by kind when the run recorded it."""
    text = f"{result['peak_rss_mb']:,.0f} MB"
    now = result.get("rss_now_mb")
    if now:
        text += f" (at the end: {now['anon']:,.0f} MB anonymous + {now['file']:,.0f} MB file-backed)"
    return text


def plot(steps: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chunks = [s["chunks"] / 1000 for s in steps]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for key, style in (("plain", "-"), ("dated", "--")):
        for q in (50, 95):
            axes[0].plot(
                chunks,
                [percentile(s["retrieval"][key], q) * 1000 for s in steps],
                style,
                marker="o",
                label=f"p{q} {key}",
            )
    axes[0].axhline(TARGET_P50 * 1000, color="grey", lw=0.6)
    axes[0].axhline(TARGET_P95 * 1000, color="grey", lw=0.6)
    axes[0].set(title="Retrieval excl. embedding (ms)", xlabel="chunks (k)")
    axes[0].legend(fontsize=7)
    axes[1].plot(chunks, [s["retrieval"]["peak_rss_mb"] for s in steps], marker="o", label="serving")
    axes[1].plot(chunks, [s["build"]["peak_rss_mb"] for s in steps], marker="o", label="BM25 build")
    axes[1].axhline(TARGET_RSS_MB, color="grey", lw=0.6)
    axes[1].set(title="Peak RSS (MB)", xlabel="chunks (k)")
    axes[1].legend(fontsize=7)
    axes[2].plot(chunks, [s["disk_bytes"] / 1e9 for s in steps], marker="o", label="index dir")
    axes[2].plot(chunks, [s["ask"]["answer_s"] for s in steps], marker="o", label="first answer (s)")
    axes[2].set(title="Disk (GB) / first answer (s)", xlabel="chunks (k)")
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description="newsqa scale benchmark (issue 15, item 2)")
    parser.add_argument("--sizes", default="50k,100k,250k,500k", help="steps in chunks, comma separated")
    parser.add_argument("--workdir", type=Path, required=True, help="holds the index and progress.json")
    parser.add_argument("--resume", action="store_true", help="continue the run in --workdir")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("SCALE.md"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--base-articles", type=int, default=150, help="articles embedded for real (default 150)")
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--report-only", action="store_true", help="rewrite --out from progress.json and stop")
    parser.add_argument(
        "--rebuild-last",
        action="store_true",
        help="drop the BM25 cache and time the first retrieval (a full build) again at the last step, then stop",
    )
    parser.add_argument("--rounds", type=int, default=3, help="start/end pairs measured by --ingest-again")
    parser.add_argument(
        "--measure-last",
        action="store_true",
        help="measure the last step again with the code as it is (the earlier figures are kept as 'before'), then stop",
    )
    parser.add_argument(
        "--ingest-again",
        action="store_true",
        help="measure the start and end ingest rates again with the code as it is (the earlier ones are kept as "
        "'before'), then stop",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="time the parts of a retrieval on the workdir's index as it is, then stop",
    )
    args = parser.parse_args()
    prepare_environment()
    nice_self()
    if args.ingest_again:
        ingest_again(args)
        return
    if args.measure_last:
        measure_last(args)
        return
    if args.report_only or args.profile or args.rebuild_last:
        progress_file = args.workdir / "progress.json"
        progress = json.loads(progress_file.read_text(encoding="utf-8"))
        if args.rebuild_last and progress.get("steps"):
            # The end ingest built the last step's BM25 cache, so that step's first retrieval only loaded it.
            import shutil

            index_dir = args.workdir / "index"
            shutil.rmtree(index_dir / "cache", ignore_errors=True)
            question = load_questions(args.data, args.questions)[0].text
            built = child("--child", "build", "--index", str(index_dir), "--question", question)
            built["rebuilt"] = True
            progress["steps"][-1]["build"] = built
            progress_file.write_text(json.dumps(progress, indent=1), encoding="utf-8")
            log(f"rebuilt the BM25 index at {built['chunks']} chunks in {built['first_s']:.1f} s")
        if args.profile:
            question_file = args.workdir / "questions.json"
            question_file.write_text(
                json.dumps([q.to_json() for q in load_questions(args.data, args.questions)]), encoding="utf-8"
            )
            index = str(args.workdir / "index")
            progress["profile"] = child("--child", "profile", "--index", index, "--questions", str(question_file))
            progress_file.write_text(json.dumps(progress, indent=1), encoding="utf-8")
        write_report(progress, args)
        return
    run(args)


if __name__ == "__main__":
    if "--child" in sys.argv:
        child_main(sys.argv[1:])
    else:
        main()
