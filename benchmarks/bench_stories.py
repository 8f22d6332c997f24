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

    python benchmarks/bench_stories.py --out benchmarks/STORIES.md
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


def sample(
    data: Path, split: str, n: int, with_copies: bool = False
) -> tuple[list[Any], list[dict[str, Any]], set[str]]:
    """A seeded sample of the split's questions, and with `with_copies` every question of the split whose own
    candidate articles hold a near-duplicate pair (few do: 6 of the 301 report questions); their articles; and the
    ids of the questions with copies."""
    from qa import Settings
    from qa.ingest.stories import fingerprint

    questions = split_questions(data, split)
    picked = random.Random(SEED).sample(questions, min(n, len(questions)))
    usable = {a["id"]: a for a in load_articles(data) if (a.get("text") or "").strip()}
    copied: set[str] = set()
    if with_copies:
        threshold = Settings().story_threshold
        wanted = {i for q in questions for i in q.candidate_article_ids if i in usable}
        prints = {i: np.asarray(fingerprint(usable[i]["text"]).minhash.hashvalues) for i in wanted}
        for q in questions:
            ids = [i for i in q.candidate_article_ids if i in prints]
            if any((prints[a] == prints[b]).mean() >= threshold for n, a in enumerate(ids) for b in ids[n + 1 :]):
                copied.add(q.question_id)
        picked += [q for q in questions if q.question_id in copied and q not in picked]
    picked.sort(key=lambda q: q.question_id)
    wanted_ids = {i for q in picked for i in q.candidate_article_ids}
    return picked, [a for i, a in usable.items() if i in wanted_ids], copied


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


def duplicate_share(passages: list[Any], threshold: float, articles: dict[str, Any]) -> tuple[int, int, int]:
    """(passages whose text is a near-duplicate of another passage's, passages whose article is a near-duplicate of
    another passage's article, passages) in one top 5. Two copies of one article are rarely cut at the same places,
    so their passages overlap less than the articles do: both are counted."""
    from qa.ingest.stories import similarity

    by_text: set[int] = set()
    by_article: set[int] = set()
    for i in range(len(passages)):
        for j in range(i + 1, len(passages)):
            a, b = passages[i], passages[j]
            if a.doc_id == b.doc_id:
                continue
            if similarity(a.text, b.text) >= threshold:
                by_text |= {i, j}
            if articles[a.doc_id].similarity(articles[b.doc_id].minhash) >= threshold:
                by_article |= {i, j}
    return len(by_text), len(by_article), len(passages)


def measure(args: argparse.Namespace) -> Section:
    from qa import Settings
    from qa.evals.realtimeqa import _holds
    from qa.ingest.stories import fingerprint

    questions, articles, copied = sample(args.data, args.split, args.questions, with_copies=True)
    threshold = Settings().story_threshold
    log(f"{len(questions)} questions of the {args.split} weeks ({len(copied)} with copies), {len(articles)} articles")
    work = Path(tempfile.mkdtemp(prefix="qa-bench-stories-"))
    try:
        source = write_jsonl(articles, work / "articles.jsonl")
        results: dict[str, dict[str, float]] = {}
        # "after" first: a first ingest's extra costs (Chroma's start) fall on detection, not on the baseline.
        for name, detect in (("after (stories)", True), ("before (no detection)", False)):
            assistant, seconds, finding = build(source, work / f"index-{int(detect)}", detect)
            status = assistant.status(probe_backend=False)
            prints: dict[str, Any] = {}
            log(f"{name}: ingest {seconds:.1f} s, {status.articles} articles, {status.stories} stories")
            for subset, asked in (
                ("all", questions),
                ("with copies", [q for q in questions if q.question_id in copied]),
            ):
                dup = dup_articles = total = gold = evidence = also = 0
                for q in asked:
                    passages = assistant.retrieve(q.question, top_k=5, date_to=q.date)
                    unseen = list(dict.fromkeys(p.doc_id for p in passages if p.doc_id not in prints))
                    for doc_id, (text, _) in assistant.store.article_texts(unseen).items():
                        prints[doc_id] = fingerprint(text)
                    d, da, t = duplicate_share(passages, threshold, prints)
                    dup, dup_articles, total = dup + d, dup_articles + da, total + t
                    gold += _holds(passages, q.answer_text[0])
                    evidence += bool(q.evidence) and _holds(passages, _plain(q.evidence))
                    also += sum(bool(p.also_in) for p in passages)
                results[f"{name}|{subset}"] = {
                    "questions": len(asked),
                    "ingest": seconds,
                    "finding": finding,
                    "dup": 100 * dup / max(total, 1),
                    "dup_articles": 100 * dup_articles / max(total, 1),
                    "gold": 100 * gold / max(len(asked), 1),
                    "evidence": 100 * evidence / max(len(asked), 1),
                    "stories": status.stories,
                    "articles": status.articles,
                    "chunks": status.chunks,
                    "also": also,
                    "passages": total,
                }
        section = Section(
            "Stories: near-duplicates in the top 5",
            intro=(
                f"{len(questions)} questions of the RealTimeQA 2024h1 {args.split} weeks: {args.questions} sampled "
                f"(seed {SEED}) and every question of those weeks whose own candidate articles hold a near-duplicate "
                f"pair ({len(copied)}, 'with copies'); retrieving from the {len(articles)} candidate articles of "
                "those questions, one index for all, top 5 with each question's date as "
                f"`date_to`. Duplicate: estimated Jaccard of 5-word shingles ≥ {threshold} between the "
                "texts of two passages of one top 5 (of two articles), or between their articles' texts."
            ),
        )
        rows = []
        for key in [
            f"{n}|{sub}" for sub in ("all", "with copies") for n in ("before (no detection)", "after (stories)")
        ]:
            r = results[key]
            name, subset = key.split("|")
            rows.append(
                [
                    f"{subset} ({r['questions']} q.)",
                    name,
                    f"{r['articles']:.0f}",
                    f"{r['stories']:.0f}",
                    f"{r['chunks']:.0f}",
                    f"{r['ingest']:.1f} s",
                    f"{r['finding']:.1f} s",
                    f"{r['dup']:.1f} %",
                    f"{r['dup_articles']:.1f} %",
                    f"{r['gold']:.1f} %",
                    f"{r['evidence']:.1f} %",
                    f"{r['also']:.0f} of {r['passages']:.0f}",
                ]
            )
        headers = [
            "questions",
            "index",
            "articles",
            "stories",
            "chunks",
            "ingest (s)",
            "of which finding stories (s)",
            "top-5 passages whose text is a near-duplicate of another's (%)",
            "top-5 passages whose article is a near-duplicate of another's (%)",
            "gold answer in top 5 (%)",
            "evidence sentence in top 5 (%)",
            "passages with also_in",
        ]
        section.table("", headers, rows)
        before, after = results["before (no detection)|all"], results["after (stories)|all"]
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
    parser.add_argument("--questions", type=int, default=20, help="questions sampled (default 20: ~15 min on 2 cores)")
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
