"""Which option of a multiple-choice question do the passages support: today's window scoring (qa/grounding/choices.py),
the trained reader, or a learned mix of both? Measured on RealTimeQA weeks we do not report on.

    python evals/choice_rankers.py [--data ../shared/benchmarks/realtimeqa-2024h1] [--weeks calibration]
        [--sample N] [--rows FILE] [--out evals/reports/choices.json]

For each question (asked with `date_to` = its quiz date; passages found as `ask(choices=...)` finds them, by
lexical retrieval), every option gets the features: the window score of `qa/grounding/choices.py`; the reader's span
margin over the option's best mention in a passage (how much it prefers exactly those words as the answer to "no
answer"); its probability that the sentence of that mention answers; its probability that the mention's passage
answers; and how much the option's words overlap the reader's best short answer over all passages. A logistic
regression over them is fitted in 5 folds split by question. Printed: forced-choice accuracy (always the best
option) by each score, and the AUC of the best option's score, right against wrong (what one abstention
threshold can do).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np

from qa.evals.experiments import (
    calibration_questions,
    experiment_parser,
    fit_logistic,
    on_report_weeks,
    progress,
    read_rows,
    write_rows,
)
from qa.evals.matching import auc, token_f1
from qa.grounding.choices import is_none_of_the_above, option_scores
from qa.reader.scoring import NO_SPAN, logit

FEATURES = ["rules", "margin", "sentence", "passage", "short_overlap"]
FOLDS = 5


def _mentions(option: str, text: str) -> list[tuple[int, int]]:
    """Character spans where the option's words appear, case and spacing aside."""
    words = option.split()
    if not words:
        return []
    pattern = r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)"
    return [m.span() for m in re.finditer(pattern, text, flags=re.IGNORECASE)]


def collect(data: Path, weeks: str, sample: int | None) -> list[dict[str, object]]:
    assistant, questions = calibration_questions(data, weeks, sample)
    rows: list[dict[str, object]] = []
    started = time.perf_counter()
    for k, q in enumerate(questions, start=1):
        passages = assistant.choice_passages(q.question, q.choices, date_to=q.date)
        rules = option_scores(q.question, q.choices, passages)
        readings = assistant.reader.read(q.question, [p.text for p in passages]) if passages else []
        spans = [(r.span.margin, p.text[r.span.start : r.span.end]) for p, r in zip(passages, readings) if r.span]
        short = max(spans)[1] if spans else ""
        for index, option in enumerate(q.choices):
            margin, sentence, passage = NO_SPAN, 0.0, 0.0
            if not is_none_of_the_above(option):
                for p, reading in zip(passages, readings):
                    for start, end in _mentions(option, p.text):
                        m = reading.span_margin(start, end)
                        if m is None or m <= margin:
                            continue
                        margin = max(NO_SPAN, m)
                        sentence = max((s for a, b, s in reading.sentences if a <= start < b), default=0.0)
                        passage = reading.passage
            rows.append(
                {
                    "question": q.question_id,
                    "option": index,
                    "gold": index in q.answer_idx,
                    "rules": rules[index].score,
                    "margin": margin,
                    "sentence": logit(sentence),
                    "passage": logit(passage),
                    "short_overlap": token_f1(short, option) if short else 0.0,
                }
            )
        progress(k, len(questions), started)
    return rows


def evaluate(rows: list[dict[str, object]]) -> dict[str, dict[str, float | None]]:
    questions = sorted({str(r["question"]) for r in rows})
    fold_of = {q: i % FOLDS for i, q in enumerate(questions)}
    x = np.array([[float(r[f]) for f in FEATURES] for r in rows])  # type: ignore[arg-type]
    y = np.array([1.0 if r["gold"] else 0.0 for r in rows])
    mixed = np.zeros(len(rows))
    for fold in range(FOLDS):
        train = np.array([fold_of[str(r["question"])] != fold for r in rows])
        mean, std = x[train].mean(axis=0), x[train].std(axis=0) + 1e-9
        w = fit_logistic((x[train] - mean) / std, y[train], balanced=False)
        held = ~train
        mixed[held] = np.hstack([(x[held] - mean) / std, np.ones((held.sum(), 1))]) @ w
    scores = {
        "rules": [float(r["rules"]) for r in rows],  # type: ignore[arg-type]
        "reader margin": [float(r["margin"]) for r in rows],  # type: ignore[arg-type]
        "reader short answer": [float(r["short_overlap"]) for r in rows],  # type: ignore[arg-type]
        "mix": mixed.tolist(),
    }
    result: dict[str, dict[str, float | None]] = {}
    for name, values in scores.items():
        best: dict[str, tuple[float, int, bool]] = {}
        for r, s in zip(rows, values):
            q, key = str(r["question"]), (s, -int(r["option"]))  # type: ignore[call-overload]
            if q not in best or key > best[q][:2]:
                best[q] = (*key, bool(r["gold"]))
        right = [b[0] for b in best.values() if b[2]]
        wrong = [b[0] for b in best.values() if not b[2]]
        result[name] = {"forced_accuracy": len(right) / max(1, len(best)), "auc": auc(right, wrong)}
    return result


def main() -> int:
    parser = experiment_parser(__doc__.split("\n")[0], "evals/reports/choices.json")
    args = parser.parse_args()
    if on_report_weeks(args.weeks):
        return 2
    rows = read_rows(args.rows) if args.rows else collect(args.data, args.weeks, args.sample)
    result = evaluate(rows)
    print(f"{len({r['question'] for r in rows})} questions of weeks {args.weeks}, {len(rows)} options")
    for name, figures in result.items():
        area = "n/a" if figures["auc"] is None else f"{figures['auc']:.3f}"
        print(f"{name:20} forced choice {figures['forced_accuracy']:.3f}  AUC {area}")
    write_rows(args.out, args.weeks, result, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
