"""What the experiments in evals/ share: they run on RealTimeQA weeks we do not report on, over the benchmark
assistant with lexical retrieval; they print their progress, fit logistic mixes, and keep their rows in a JSON
file that a later run can read back (`--rows`) instead of collecting again."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from qa.assistant import Assistant
from qa.evals.realtimeqa import (
    DEFAULT_DATA,
    SPLITS,
    Question,
    benchmark_assistant,
    load_questions,
    parse_weeks,
    select,
    weeks_between,
)
from qa.settings import Settings

Rows = list[dict[str, object]]


def experiment_parser(description: str, out: str, *, reuse_rows: bool = True) -> argparse.ArgumentParser:
    """--data, --weeks (calibration by default), --sample, --out and, with `reuse_rows`, --rows."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--weeks", default="calibration")
    parser.add_argument("--sample", type=int, default=None)
    if reuse_rows:
        parser.add_argument("--rows", type=Path, help="reuse the rows of an earlier run (its --out file)")
    parser.add_argument("--out", type=Path, default=Path(out))
    return parser


def on_report_weeks(weeks: str) -> bool:
    """True, with the error printed, when the weeks reach into the ones we report on."""
    if parse_weeks(weeks)[1] < parse_weeks(SPLITS["report"])[0]:
        return False
    print("error: experiment on weeks before 2024-04 only: 2024-04..2024-06 is what we report on", file=sys.stderr)
    return True


def calibration_questions(data: Path, weeks: str, sample: int | None) -> tuple[Assistant, list[Question]]:
    """The benchmark assistant (lexical retrieval, no index) and the questions of those weeks."""
    first, last = parse_weeks(weeks)
    assistant = benchmark_assistant(data / "articles.jsonl.gz", Settings(), retrieval="lexical")
    questions = select(weeks_between(load_questions(data / "questions.jsonl"), first, last), limit=None, sample=sample)
    return assistant, questions


def progress(done: int, total: int, started: float) -> None:
    if done % 20 == 0:
        print(f"{done}/{total} questions, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


def read_rows(path: Path) -> Rows:
    rows: Rows = json.loads(path.read_text(encoding="utf-8"))["rows"]
    return rows


def write_rows(path: Path, weeks: str, result: Any, rows: Rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"weeks": weeks, "result": result, "rows": rows}) + "\n", encoding="utf-8")


def fit_logistic(
    x: np.ndarray, y: np.ndarray, *, balanced: bool, steps: int = 3000, rate: float = 0.1, l2: float = 1e-3
) -> np.ndarray:
    """Logistic regression by gradient descent on standardised features; weights include the bias last. With
    `balanced`, positives and negatives weigh alike in the loss however rare the positives are."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    weights = np.ones(len(y))
    if balanced:
        positive = max(1.0, float(y.sum()))
        weights = np.where(y == 1, len(y) / (2 * positive), len(y) / (2 * max(1.0, len(y) - positive)))
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(xb @ w)))
        grad = xb.T @ ((p - y) * weights) / len(y) + l2 * np.r_[w[:-1], 0.0]
        w -= rate * grad
    return w
