"""Would reordering a wider set of retrieved passages put the gold text in the top 5 more often? Measured on
RealTimeQA weeks we do not report on.

    python evals/rerank_candidates.py [--data ../shared/benchmarks/realtimeqa-2024h1] [--weeks calibration]
        [--sample N] [--candidates 30] [--out evals/reports/rerank.json]

For each question (`date_to` = its quiz date), lexical retrieval hands out `--candidates` passages (the per-article
cap applied). They are reordered by each score below and the first 5 are kept; printed is how often those 5 hold
the gold choice text, against the retrieval order's first 5 and against all candidates (the ceiling):
the evidence ranking's best sentence per passage (qa/grounding/evidence.py, over all candidates' sentences), the
reader's probability that the passage answers, its best sentence probability, its best span margin, and the answer score
(qa/reader/scoring.py: reader and rules mixed, fitted on the calibration weeks) of the passage's best sentence.
"""

from __future__ import annotations

import time
from pathlib import Path

from qa.evals.experiments import (
    calibration_questions,
    experiment_parser,
    on_report_weeks,
    progress,
    read_rows,
    write_rows,
)
from qa.evals.matching import contains_answer
from qa.grounding.evidence import rank
from qa.reader.scoring import NO_SPAN, rescore, shipped_mix

KEEP = 5


def collect(data: Path, weeks: str, sample: int | None, candidates: int) -> list[dict[str, object]]:
    assistant, questions = calibration_questions(data, weeks, sample)
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
        progress(k, len(questions), started)
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
    parser = experiment_parser(__doc__.split("\n")[0], "evals/reports/rerank.json")
    parser.add_argument("--candidates", type=int, default=30)
    args = parser.parse_args()
    if on_report_weeks(args.weeks):
        return 2
    rows = read_rows(args.rows) if args.rows else collect(args.data, args.weeks, args.sample, args.candidates)
    result = evaluate(rows)
    print(f"{len({r['question'] for r in rows})} questions of weeks {args.weeks}, {len(rows)} candidate passages")
    for name, share in result.items():
        print(f"{name:16} gold text in the first {KEEP}: {share:.3f}")
    write_rows(args.out, args.weeks, result, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
