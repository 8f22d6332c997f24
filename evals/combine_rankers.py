"""Would a learned mix of the evidence ranking and the trained reader pick the answering sentence better than either?

    python evals/combine_rankers.py [--data ../shared/benchmarks/realtimeqa-2024h1] [--weeks calibration]
        [--sample N] [--out evals/reports/combine.json]

An experiment on RealTimeQA weeks we do not report on, not a shipped ranker. For each question (top-5 passages
by lexical retrieval, `date_to` = its quiz date), every candidate sentence gets the features: the evidence
ranking's score and whether it has the answer's shape (qa/grounding/evidence.py), the reader's probability that it
answers, the reader's best span margin inside it, and the reader's probability that its passage answers. The label: the
sentence holds the gold choice text. A logistic regression is fitted in 5 folds split by question; for the held-out
fold's questions the best sentence by each score is checked. Printed: how often the best sentence holds the gold
text, by the rules, the reader and the mix, and the AUC of each best sentence's score (what one refusal
threshold can do).
"""

from __future__ import annotations

import json
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
from qa.evals.matching import auc, contains_answer
from qa.grounding.evidence import rank
from qa.reader.scoring import FEATURES, MIX_FILE, features_of, in_shape_group

FOLDS = 5


def collect(data: Path, weeks: str, sample: int | None) -> list[dict[str, object]]:
    assistant, questions = calibration_questions(data, weeks, sample)
    rows: list[dict[str, object]] = []
    started = time.perf_counter()
    for k, q in enumerate(questions, start=1):
        passages = assistant.retrieve(q.question, date_to=q.date)
        ranked = rank(q.question, passages, assistant.embedder)
        readings = dict(
            zip((p.chunk_id for p in passages), assistant.reader.read(q.question, [p.text for p in passages]))
        )
        for position, evidence in enumerate(ranked):
            if evidence.stated is not None:
                continue
            values = features_of(evidence, readings[evidence.passage.chunk_id], in_shape_group(ranked, position))
            rows.append(
                {
                    "question": q.question_id,
                    **dict(zip(FEATURES, values)),
                    "holds": bool(contains_answer(evidence.text, [q.answer_text[0]])),
                }
            )
        progress(k, len(questions), started)
    return rows


def evaluate(rows: list[dict[str, object]]) -> dict[str, dict[str, float | None]]:
    questions = sorted({str(r["question"]) for r in rows})
    fold_of = {q: i % FOLDS for i, q in enumerate(questions)}
    x = np.array([[float(r[f]) for f in FEATURES] for r in rows])  # type: ignore[arg-type]
    y = np.array([1.0 if r["holds"] else 0.0 for r in rows])
    mixed = np.zeros(len(rows))
    for fold in range(FOLDS):
        train = np.array([fold_of[str(r["question"])] != fold for r in rows])
        mean, std = x[train].mean(axis=0), x[train].std(axis=0) + 1e-9
        w = fit_logistic((x[train] - mean) / std, y[train], balanced=True)
        held = ~train
        mixed[held] = np.hstack([(x[held] - mean) / std, np.ones((held.sum(), 1))]) @ w
    scores = {
        "rules": [(float(r["shape_first"]), float(r["rules"])) for r in rows],  # type: ignore[arg-type]
        "reader": [(0.0, float(r["reader"])) for r in rows],  # type: ignore[arg-type]
        "mix": [(0.0, float(m)) for m in mixed],
    }
    result: dict[str, dict[str, float | None]] = {}
    for name, keyed in scores.items():
        best: dict[str, tuple[tuple[float, float], bool]] = {}
        for r, key in zip(rows, keyed):
            q = str(r["question"])
            if q not in best or key > best[q][0]:
                best[q] = (key, bool(r["holds"]))
        right = [k[1] for k, h in best.values() if h]
        wrong = [k[1] for k, h in best.values() if not h]
        result[name] = {"best_holds_gold": len(right) / max(1, len(questions)), "auc": auc(right, wrong)}
    return result


def best_per_question(rows: list[dict[str, object]], scores: np.ndarray) -> list[tuple[float, bool]]:
    """Per question, the score of its best sentence and whether that sentence holds the gold text."""
    best: dict[str, tuple[float, bool]] = {}
    for r, s in zip(rows, scores):
        q = str(r["question"])
        if q not in best or s > best[q][0]:
            best[q] = (float(s), bool(r["holds"]))
    return list(best.values())


def youden_threshold(best: list[tuple[float, bool]]) -> float:
    """The threshold (answer at or above it) that maximises answered-right rate plus refused-wrong rate: one that
    does not depend on how many questions the passages answer."""
    right = np.array([s for s, h in best if h])
    wrong = np.array([s for s, h in best if not h])
    candidates = np.unique(np.r_[right, wrong])
    j = [float((right >= t).mean() + (wrong < t).mean()) for t in candidates]
    return float(candidates[int(np.argmax(j))])


def fit_mix(rows: list[dict[str, object]], weeks: str) -> dict[str, object]:
    """The shipped mix (qa/reader/scoring.py): fitted on every row, its refusal threshold chosen on the same rows."""
    x = np.array([[float(r[f]) for f in FEATURES] for r in rows])  # type: ignore[arg-type]
    y = np.array([1.0 if r["holds"] else 0.0 for r in rows])
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    w = fit_logistic((x - mean) / std, y, balanced=True)
    scores = ((x - mean) / std) @ w[:-1] + w[-1]
    best = best_per_question(rows, scores)
    threshold = youden_threshold(best)
    answered = [h for s, h in best if s >= threshold]
    return {
        "features": list(FEATURES),
        "mean": mean.round(6).tolist(),
        "std": std.round(6).tolist(),
        "weights": w[:-1].round(6).tolist(),
        "bias": round(float(w[-1]), 6),
        "threshold": round(threshold, 4),
        "fitted_on": {
            "data": "RealTimeQA 2024H1, top-5 lexical passages, each question's date as date_to",
            "weeks": weeks,
            "questions": len(best),
            "sentences": len(rows),
            "answered_share": round(len(answered) / max(1, len(best)), 3),
            "answered_hold_gold": round(sum(answered) / max(1, len(answered)), 3),
        },
    }


def main() -> int:
    parser = experiment_parser(__doc__.split("\n")[0], "evals/reports/combine.json")
    parser.add_argument(
        "--fit", type=Path, nargs="?", const=MIX_FILE, help=f"write the shipped mix (default {MIX_FILE})"
    )
    args = parser.parse_args()
    if on_report_weeks(args.weeks):
        return 2
    rows = read_rows(args.rows) if args.rows else collect(args.data, args.weeks, args.sample)
    result = evaluate(rows)
    print(
        f"{len({r['question'] for r in rows})} questions of weeks {args.weeks}, {len(rows)} candidate sentences, "
        f"{FOLDS}-fold by question"
    )
    for name, figures in result.items():
        area = "n/a" if figures["auc"] is None else f"{figures['auc']:.3f}"
        print(f"{name:7} best sentence holds gold {figures['best_holds_gold']:.3f}  AUC {area}")
    if args.fit:
        mix = fit_mix(rows, args.weeks)
        args.fit.write_text(json.dumps(mix, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.fit}: threshold {mix['threshold']}, {mix['fitted_on']}")
    write_rows(args.out, args.weeks, result, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
