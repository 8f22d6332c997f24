"""Would reordering a wider set of retrieved passages put the gold text in the top 5 more often? Measured on
RealTimeQA weeks we do not report on.

    python evals/rerank_candidates.py [--data ../shared/benchmarks/realtimeqa-2024h1] [--weeks calibration]
        [--sample N] [--candidates 30] [--out evals/reports/rerank.json]

For each question (`date_to` = its quiz date), lexical retrieval hands out `--candidates` passages (the per-article
cap applied). They are reordered by each score below and the first 5 are kept; printed is how often those 5 hold
the gold choice text, against the retrieval order's first 5 and against all candidates (the ceiling):
the evidence ranking's best sentence per passage (qa/evidence.py, over all candidates' sentences), the reader's
probability that the passage answers, its best sentence probability, its best span margin, and the answer score
(qa/reader/scoring.py: reader and rules mixed, fitted on the calibration weeks) of the passage's best sentence.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from qa import Settings
from qa.evals.matching import contains_answer
from qa.evals.realtimeqa import (
    DEFAULT_DATA,
    SPLITS,
    benchmark_assistant,
    load_questions,
    parse_weeks,
    select,
    weeks_between,
)
from qa.evidence import rank
from qa.reader.scoring import NO_SPAN, rescore, shipped_mix

KEEP = 5


def collect(data: Path, weeks: str, sample: int | None, candidates: int) -> list[dict[str, object]]:
    first, last = parse_weeks(weeks)
    assistant = benchmark_assistant(data / "articles.jsonl.gz", Settings(), retrieval="lexical")
    questions = select(weeks_between(load_questions(data / "questions.jsonl"), first, last), limit=None, sample=sample)
    mix = shipped_mix()
    rows: list[dict[str, object]] = []
    started = time.perf_counter()
    for k, q in enumerate(questions, start=1):
        passages = assistant.retrieve(q.question, top_k=candidates, date_to=q.date)
        ranked = rank(q.question, passages, assistant.embedder)
        mixed = rescore(q.question, ranked, assistant.reader, mix)
        readings = assistant.reader.read(q.question, [p.text for p in passages])
        rules_best: dict[str, float] = {}
        for e in ranked:
            if e.stated is None:
                rules_best[e.passage.chunk_id] = max(rules_best.get(e.passage.chunk_id, -9.0), e.score)
        mix_best: dict[str, float] = {}
        for e in mixed:
            if e.stated is None:
                mix_best[e.passage.chunk_id] = max(mix_best.get(e.passage.chunk_id, -99.0), e.score)
        for position, (p, reading) in enumerate(zip(passages, readings)):
            rows.append(
                {
                    "question": q.question_id,
                    "retrieval": -position,
                    "rules": rules_best.get(p.chunk_id, -9.0),
                    "reader_passage": reading.passage,
                    "reader_sentence": reading.best_sentence,
                    "reader_margin": reading.span.margin if reading.span else NO_SPAN,
                    "mix": mix_best.get(p.chunk_id, -99.0),
                    "holds": bool(contains_answer(f"{p.title} {p.text}", [q.answer_text[0]])),
                }
            )
        if k % 20 == 0:
            print(f"{k}/{len(questions)} questions, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return rows


def evaluate(rows: list[dict[str, object]]) -> dict[str, float]:
    by_question: dict[str, list[dict[str, object]]] = {}
    for r in rows:
        by_question.setdefault(str(r["question"]), []).append(r)
    scores = ["retrieval", "rules", "reader_passage", "reader_sentence", "reader_margin", "mix"]
    result = {"all candidates": sum(any(r["holds"] for r in rs) for rs in by_question.values()) / len(by_question)}
    for score in scores:
        kept = [
            sorted(rs, key=lambda r: (-float(r[score]), -float(r["retrieval"])))[:KEEP]  # type: ignore[arg-type]
            for rs in by_question.values()
        ]
        result[score] = sum(any(r["holds"] for r in top) for top in kept) / len(by_question)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--weeks", default="calibration")
    parser.add_argument("--sample", type=int, default=None)
    parser.add_argument("--candidates", type=int, default=30)
    parser.add_argument("--rows", type=Path, help="reuse the rows of an earlier run (its --out file)")
    parser.add_argument("--out", type=Path, default=Path("evals/reports/rerank.json"))
    args = parser.parse_args()
    if parse_weeks(args.weeks)[1] >= parse_weeks(SPLITS["report"])[0]:
        print("error: experiment on weeks before 2024-04 only: 2024-04..2024-06 is what we report on", file=sys.stderr)
        return 2
    rows = (
        json.loads(args.rows.read_text(encoding="utf-8"))["rows"]
        if args.rows
        else collect(args.data, args.weeks, args.sample, args.candidates)
    )
    result = evaluate(rows)
    print(f"{len({r['question'] for r in rows})} questions of weeks {args.weeks}, {len(rows)} candidate passages")
    for name, share in result.items():
        print(f"{name:16} gold text in the first {KEEP}: {share:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"weeks": args.weeks, "result": result, "rows": rows}) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
