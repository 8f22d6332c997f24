"""One story, told once (issue 16): near-duplicate passages in the top 5, gold in the top 5, and ingest time, with
and without story detection, on a RealTimeQA sample.

The sample is the candidate articles of a seeded sample of questions of one half of the weeks: `--split report`
(even weeks, the default: the figures of benchmarks/STORIES.md) or `--split calibration` (odd weeks: where the
threshold was chosen, evals/README.md). Both indexes are built from the same JSON lines file in scratch folders:
one with `QA_DETECT_STORIES=0` (before: every article its own story), one with detection and one article per story
(after). A passage of a top 5 is a duplicate when its MinHash Jaccard estimate with another passage of that top 5
reaches the story threshold, the measure ingest uses (qa/ingest/stories.py).

`--calibrate` only reads the articles: every pair of the sample's articles by estimated Jaccard, a histogram, and
example pairs per band of similarity, to choose the threshold by reading them.

    python benchmarks/bench_stories.py --questions 100 --out benchmarks/STORIES.md
    python benchmarks/bench_stories.py --split calibration --calibrate
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_common import DEFAULT_DATA, SEED, Section, load_articles, log, prepare_environment, write_section

SPLITS = ("report", "calibration")


def split_questions(data: Path, split: str) -> list[Any]:
    """The questions of even (report) or odd (calibration) weeks, counting the quiz weeks from 0, with candidates."""
    from qa.evals.realtimeqa import load_questions

    questions = [q for q in load_questions(data / "questions.jsonl") if q.candidate_article_ids]
    weeks = sorted({q.day for q in questions})
    parity = 0 if split == "report" else 1
    return [q for q in questions if weeks.index(q.day) % 2 == parity]


def sample(data: Path, split: str, n: int) -> tuple[list[Any], list[dict[str, Any]]]:
    questions = split_questions(data, split)
    picked = sorted(random.Random(SEED).sample(questions, min(n, len(questions))), key=lambda q: q.question_id)
    wanted = {i for q in picked for i in q.candidate_article_ids}
    articles = [a for a in load_articles(data) if a["id"] in wanted and (a.get("text") or "").strip()]
    return picked, articles


def write_jsonl(articles: list[dict[str, Any]], path: Path) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for a in articles:
            record = {"id": a["id"], "url": a.get("url") or "", "title": a.get("title") or "", "text": a["text"]}
            if a.get("publish_date"):
                record["publish_date"] = a["publish_date"]
            out.write(json.dumps(record) + "\n")
    return path


def calibrate(articles: list[dict[str, Any]]) -> None:
    """Every pair of articles by estimated Jaccard: a histogram, and pairs of each band to read."""
    from qa.ingest.stories import fingerprint

    started = time.perf_counter()
    prints = [fingerprint(a["text"]).minhash for a in articles]
    log(f"{len(prints)} signatures in {time.perf_counter() - started:.1f} s")
    values = np.stack([np.asarray(m.hashvalues) for m in prints])
    pairs: list[tuple[float, int, int]] = []
    for i in range(len(values)):
        same = (values[i + 1 :] == values[i]).mean(axis=1)
        pairs += [(float(s), i, i + 1 + int(j)) for j, s in enumerate(same) if s >= 0.2]
    edges = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01]
    rng = random.Random(SEED)
    for low, high in itertools.pairwise(edges):
        band = [p for p in pairs if low <= p[0] < high]
        print(f"\n## Jaccard {low:.1f}–{min(high, 1.0):.1f}: {len(band)} pairs")
        for score, i, j in rng.sample(band, min(6, len(band))):
            a, b = articles[i], articles[j]
            print(f"  {score:.2f}  {a.get('title', '')[:60]!r} ({a.get('url', '')[:60]})")
            print(f"        {b.get('title', '')[:60]!r} ({b.get('url', '')[:60]})")


def build(articles_file: Path, index_dir: Path, detect: bool) -> tuple[Any, float, float]:
    """The index, its ingest time, and the part of it spent finding stories (signatures and their catalog reads)."""
    import qa.ingest.run as run
    from qa import Assistant, Settings

    settings = Settings(index_dir=index_dir, detect_stories=detect, one_per_story=detect, max_file_mb=1000.0)
    assistant = Assistant(settings)
    assistant.embedder.embed(["warm up"])  # the model's load is not ingest time
    spent = [0.0]
    tell = run.tell

    def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return tell(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - began

    run.tell = timed  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        assistant.ingest([articles_file], prune=False)
        return assistant, time.perf_counter() - started, spent[0]
    finally:
        run.tell = tell  # type: ignore[assignment]


def duplicate_share(passages: list[Any], threshold: float) -> tuple[int, int]:
    """(passages that are near-duplicates of another in the list, passages)."""
    from qa.ingest.stories import similarity

    dup = set()
    for i in range(len(passages)):
        for j in range(i + 1, len(passages)):
            if passages[i].doc_id != passages[j].doc_id and similarity(passages[i].text, passages[j].text) >= threshold:
                dup |= {i, j}
    return len(dup), len(passages)


def measure(args: argparse.Namespace) -> Section:
    from qa import Settings
    from qa.evals.realtimeqa import _holds

    questions, articles = sample(args.data, args.split, args.questions)
    threshold = Settings().story_threshold
    log(f"{len(questions)} questions of the {args.split} weeks, {len(articles)} candidate articles")
    work = Path(tempfile.mkdtemp(prefix="qa-bench-stories-"))
    try:
        source = write_jsonl(articles, work / "articles.jsonl")
        results: dict[str, dict[str, float]] = {}
        extra: dict[str, Any] = {}
        # "after" first: a first ingest's extra costs (Chroma's start) fall on detection, not on the baseline.
        for name, detect in (("after (stories)", True), ("before (no detection)", False)):
            assistant, seconds, finding = build(source, work / f"index-{int(detect)}", detect)
            status = assistant.status(probe_backend=False)
            log(f"{name}: ingest {seconds:.1f} s, {status.articles} articles, {status.stories} stories")
            dup = total = gold = evidence = also = 0
            for q in questions:
                passages = assistant.retrieve(q.question, top_k=5, date_to=q.date)
                d, t = duplicate_share(passages, threshold)
                dup, total = dup + d, total + t
                gold += _holds(passages, q.answer_text[0])
                evidence += bool(q.evidence) and _holds(passages, _plain(q.evidence))
                also += sum(bool(p.also_in) for p in passages)
            results[name] = {
                "ingest": seconds,
                "finding": finding,
                "dup": 100 * dup / max(total, 1),
                "gold": 100 * gold / len(questions),
                "evidence": 100 * evidence / len(questions),
                "stories": status.stories,
                "articles": status.articles,
                "chunks": status.chunks,
                "also": also,
                "passages": total,
            }
            extra[name] = status
        section = Section(
            "Stories: near-duplicates in the top 5",
            intro=(
                f"{len(questions)} questions of the RealTimeQA 2024h1 {args.split} weeks (seed {SEED}), retrieving "
                f"from the {len(articles)} candidate articles of those questions, top 5 with each question's date as "
                f"`date_to`. Duplicate: estimated Jaccard of 5-word shingles ≥ {threshold} with another passage of the "
                "same top 5 (another article)."
            ),
        )
        rows = []
        for name in ("before (no detection)", "after (stories)"):
            r = results[name]
            rows.append(
                [
                    name,
                    f"{r['articles']:.0f}",
                    f"{r['stories']:.0f}",
                    f"{r['chunks']:.0f}",
                    f"{r['ingest']:.1f} s",
                    f"{r['finding']:.1f} s",
                    f"{r['dup']:.1f} %",
                    f"{r['gold']:.1f} %",
                    f"{r['evidence']:.1f} %",
                    f"{r['also']:.0f} of {r['passages']:.0f}",
                ]
            )
        headers = [
            "index",
            "articles",
            "stories",
            "chunks",
            "ingest (s)",
            "of which finding stories (s)",
            "top-5 passages that are duplicates (%)",
            "gold answer in top 5 (%)",
            "evidence sentence in top 5 (%)",
            "passages with also_in",
        ]
        section.table("", headers, rows)
        before, after = results["before (no detection)"], results["after (stories)"]
        section.notes.append(
            f"Ingest time with detection is {after['ingest'] / before['ingest']:.2f}× the time without "
            f"({after['ingest'] - before['ingest']:+.1f} s for {len(articles)} articles; the two runs share 2 busy "
            f"cores, so the difference is mostly noise). Finding the stories itself (MinHash signatures, the catalog "
            f"reads of candidates and their signatures) took {after['finding']:.1f} s of it."
        )
        return section
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"kept {work}")


def _plain(evidence: str) -> str:
    """The quiz's evidence sentence without its HTML tags."""
    import re

    return " ".join(re.sub(r"<[^>]+>", " ", evidence).split())


def main() -> None:
    parser = argparse.ArgumentParser(description="newsqa benchmark: one story, told once (issue 16)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="realtimeqa-2024h1 folder (read only)")
    parser.add_argument("--questions", type=int, default=100, help="questions sampled (default 100)")
    parser.add_argument("--split", choices=SPLITS, default="report", help="even weeks (report) or odd (calibration)")
    parser.add_argument("--calibrate", action="store_true", help="only list article pairs by similarity")
    parser.add_argument("--keep", action="store_true", help="keep the scratch indexes")
    parser.add_argument("--out", type=Path, help="also write the results as markdown to this file")
    args = parser.parse_args()
    prepare_environment()
    if args.calibrate:
        calibrate(sample(args.data, args.split, args.questions)[1])
        return
    started = time.perf_counter()
    section = measure(args)
    section.seconds = time.perf_counter() - started
    write_section(section, args.out)


if __name__ == "__main__":
    main()
