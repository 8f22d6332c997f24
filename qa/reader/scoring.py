"""The answer score: how likely a candidate sentence answers the question, from the trained reader's readings
mixed with the evidence ranking's score by a logistic regression fitted on RealTimeQA's calibration weeks
(`python evals/combine_rankers.py --fit`, written to weights/mix.json). Sentences are ordered by it, and one
threshold on it (chosen on the same weeks) decides whether the passages answer at all.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.grounding.evidence import Evidence
from qa.reader.decode import PassageReading
from qa.reader.runtime import Reader
from qa.reader.weights import WEIGHTS_DIR

MIX_FILE = WEIGHTS_DIR / "mix.json"
# rules: the evidence ranking's score; shape_first: whether it sorts in the ranking's first group (the answer's
# shape: a number for "how many"); reader: the logit of the reader's sentence probability; margin: its best span
# inside the sentence against "no answer"; passage: the logit of its passage-answers probability.
FEATURES = ("rules", "shape_first", "reader", "margin", "passage")
NO_SPAN = -15.0  # the margin of a sentence without a span, and the floor of every margin


def logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def in_shape_group(ranked: Sequence[Evidence], position: int) -> bool:
    """Whether the sentence sorts in rank()'s first group (scores fall within a group; a rise starts the next)."""
    return all(ranked[i].score <= ranked[i - 1].score for i in range(1, position + 1))


def features_of(evidence: Evidence, reading: PassageReading, in_first_group: bool) -> list[float]:
    """The mix's inputs for one sentence, given the reading of its source (its passage, or its metadata statement)."""
    _, start, end = evidence.source
    span = reading.span_within(start, end)
    sentence = reading.sentence_score(start, end) if evidence.stated is None else reading.best_sentence
    return [
        evidence.score,
        float(in_first_group),
        logit(sentence),
        max(NO_SPAN, span.margin) if span else NO_SPAN,
        logit(reading.passage),
    ]


@dataclass(frozen=True)
class AnswerMix:
    """A logistic regression over FEATURES (standardised), and the refusal threshold on its logit."""

    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float

    @classmethod
    def load(cls, path: Path = MIX_FILE) -> AnswerMix:
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path}: features {data['features']} are not {list(FEATURES)}; refit it")
        return cls(
            mean=np.array(data["mean"], dtype=np.float64),
            std=np.array(data["std"], dtype=np.float64),
            weights=np.array(data["weights"], dtype=np.float64),
            bias=float(data["bias"]),
            threshold=float(data["threshold"]),
        )

    def score(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(((rows - self.mean) / self.std) @ self.weights + self.bias)

    def rules_units(self, difference: float) -> float:
        """A difference of the evidence ranking's score, in the mix's logit (its weight on that score)."""
        return float(self.weights[0] / self.std[0] * difference)


@lru_cache(maxsize=1)
def shipped_mix() -> AnswerMix:
    return AnswerMix.load()


def rescore(question: str, ranked: Sequence[Evidence], reader: Reader, mix: AnswerMix) -> list[Evidence]:
    """The evidence ranking's sentences with the mix's logit as their score, best first.

    The reader reads every passage once (and each metadata statement as its own text), all in one batch."""
    if not ranked:
        return []
    texts = list(dict.fromkeys(e.source[0] for e in ranked))  # each passage or statement once, in first-seen order
    readings = dict(zip(texts, reader.read(question, texts)))
    rows = np.array(
        [features_of(e, readings[e.source[0]], in_shape_group(ranked, i)) for i, e in enumerate(ranked)],
        dtype=np.float64,
    )
    scores = mix.score(rows)
    rescored = [replace(e, score=round(float(s), 4)) for e, s in zip(ranked, scores)]
    rescored.sort(key=lambda e: (-e.score, e.passage.n, e.start))
    return rescored
