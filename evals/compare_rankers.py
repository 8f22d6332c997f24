"""Which sentence answers: today's evidence ranking (qa/grounding/evidence.py) against the trained reader's, on
RealTimeQA weeks we do not report on.

    python evals/compare_rankers.py [--data ../shared/benchmarks/realtimeqa-2024h1] [--weeks calibration]
        [--sample N] [--out evals/reports/rankers.json]

For each question (asked with `date_to` = its quiz date, top-5 passages by lexical retrieval as
`qa eval --set realtimeqa --retrieval lexical` does): the best sentence by each ranker, whether it holds the gold
choice text, and its score. Printed per ranker: how often its best sentence holds the gold text (of all questions
and of those whose passages hold it), and how well its score separates best sentences that hold the gold text
from those that do not (AUC: what one refusal threshold on that score can do). The reader becomes the default
ranking only where it beats the evidence ranking here.
"""

from __future__ import annotations

import json
import time

from qa.evals.experiments import calibration_questions, experiment_parser, on_report_weeks, progress
from qa.evals.matching import auc, contains_answer
from qa.grounding.evidence import rank, sentences_of


def main() -> int:
    parser = experiment_parser(__doc__.split("\n")[0], "evals/reports/rankers.json", reuse_rows=False)
    args = parser.parse_args()
    if on_report_weeks(args.weeks):
        return 2
    assistant, questions = calibration_questions(args.data, args.weeks, args.sample)
    rows = []
    started = time.perf_counter()
    for k, q in enumerate(questions, start=1):
        gold = q.answer_text[0]
        passages = assistant.retrieve(q.question, date_to=q.date)
        row: dict[str, object] = {
            "question_id": q.question_id,
            "gold_in_passages": any(contains_answer(f"{p.title} {p.text}", [gold]) for p in passages),
        }
        rules = rank(q.question, passages, assistant.embedder)
        row["rules_score"] = rules[0].score if rules else 0.0
        row["rules_holds"] = bool(rules and contains_answer(rules[0].text, [gold]))
        candidates = [c for c in sentences_of(passages) if c.stated is None]
        readings = {
            p.chunk_id: r for p, r in zip(passages, assistant.reader.read(q.question, [p.text for p in passages]))
        }
        scored = [(readings[c.passage.chunk_id].sentence_score(c.start, c.end), c) for c in candidates]
        best = max(scored, key=lambda s: s[0], default=None)
        row["reader_score"] = round(best[0], 4) if best else 0.0
        row["reader_holds"] = bool(best and contains_answer(best[1].text, [gold]))
        rows.append(row)
        progress(k, len(questions), started)

    answerable = [r for r in rows if r["gold_in_passages"]]
    print(
        f"{len(rows)} questions of weeks {args.weeks} ({args.data}), lexical retrieval, top 5 passages; "
        f"{len(answerable)} with the gold text in their passages"
    )
    print("ranker    best holds gold (all)  (gold in passages)  AUC of the best sentence's score")
    summary = {}
    for name in ("rules", "reader"):
        holds = [bool(r[f"{name}_holds"]) for r in rows]
        right = [float(r[f"{name}_score"]) for r in rows if r[f"{name}_holds"]]  # type: ignore[arg-type]
        wrong = [float(r[f"{name}_score"]) for r in rows if not r[f"{name}_holds"]]  # type: ignore[arg-type]
        share = sum(holds) / max(1, len(rows))
        share_answerable = sum(bool(r[f"{name}_holds"]) for r in answerable) / max(1, len(answerable))
        area = auc(right, wrong)
        summary[name] = {"holds": share, "holds_when_in_passages": share_answerable, "auc": area}
        print(f"{name:8}  {share:21.3f}  {share_answerable:18.3f}  {'n/a' if area is None else f'{area:.3f}'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"data": str(args.data), "weeks": args.weeks, "summary": summary, "rows": rows}, indent=1) + "\n",
        encoding="utf-8",
    )
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
