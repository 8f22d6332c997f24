"""From the reader's outputs over a passage's windows to what answering needs: sentence scores, the passage
score, the best short answer, and a score for any span of the passage (multiple choice)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.reader.features import Window

MAX_ANSWER_TOKENS = 30
_SENTENCE, _PASSAGE = 2, 3


def sigmoid(x: float | np.ndarray) -> float | np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class Span:
    """A short answer: characters [start, end) of the passage, and how far the model prefers it to no answer."""

    start: int
    end: int
    margin: float  # start + end logit of the span less those of "no answer"; > 0: the span is preferred


@dataclass(frozen=True)
class PassageReading:
    """What the reader found in one passage for one question."""

    passage: float  # probability that the passage answers the question
    sentences: list[tuple[int, int, float]]  # (start, end, probability the sentence answers), in text order
    span: Span | None  # the best short answer, None when no span fits
    # Per passage word piece: its characters and its best start and end logits (less the no-answer ones).
    offsets: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    @property
    def best_sentence(self) -> float:
        return max((s for _, _, s in self.sentences), default=0.0)

    def sentence_score(self, start: int, end: int) -> float:
        """The probability that the sentence at characters [start, end) answers; 0 for one the reader did not see."""
        for a, b, score in self.sentences:
            if a == start and b == end:
                return score
        return 0.0

    def span_within(self, start: int, end: int) -> Span | None:
        """The best short answer inside characters [start, end), None when no word piece lies there."""
        inside = np.nonzero((self.offsets[:, 0] >= start) & (self.offsets[:, 1] <= end))[0]
        if len(inside) == 0:
            return None
        return _best_span(self.starts[inside], self.ends[inside], self.offsets[inside])

    def span_margin(self, start: int, end: int) -> float | None:
        """How the model rates characters [start, end) as the short answer; None when no word piece lies there."""
        inside = np.nonzero((self.offsets[:, 0] < end) & (self.offsets[:, 1] > start))[0]
        if len(inside) == 0:
            return None
        return float(self.starts[inside[0]] + self.ends[inside[-1]])


def read(
    windows: Sequence[Window], logits: Sequence[np.ndarray], sentences: Sequence[tuple[int, int]]
) -> PassageReading:
    """Combine the logits (one array of shape [tokens, 4] per window) over the windows of one passage."""
    by_char: dict[tuple[int, int], tuple[float, float, float]] = {}
    sentence_scores = [0.0] * len(sentences)
    passage = 0.0
    best: Span | None = None
    for window, out in zip(windows, logits):
        context = window.context
        passage = max(passage, float(sigmoid(out[0, _PASSAGE])))
        offsets = np.array([window.offsets[i] for i in context], dtype=np.int64).reshape(-1, 2)
        starts = out[context.start : context.stop, 0] - out[0, 0]
        ends = out[context.start : context.stop, 1] - out[0, 1]
        marks = out[context.start : context.stop, _SENTENCE]
        for (a, b), s, e, m in zip(map(tuple, offsets), starts, ends, marks):
            old = by_char.get((a, b))
            by_char[(a, b)] = (
                (float(s), float(e), float(m)) if old is None else (max(old[0], s), max(old[1], e), max(old[2], m))
            )
        for k, (a, b) in enumerate(sentences):
            inside = (offsets[:, 0] >= a) & (offsets[:, 1] <= b)
            if inside.any():
                sentence_scores[k] = max(sentence_scores[k], float(sigmoid(marks[inside].mean())))
        span = _best_span(starts, ends, offsets)
        if span is not None and (best is None or span.margin > best.margin):
            best = span
    keys = sorted(by_char)
    values = np.array([by_char[k] for k in keys], dtype=np.float32).reshape(-1, 3)
    return PassageReading(
        passage=passage,
        sentences=[(a, b, s) for (a, b), s in zip(sentences, sentence_scores)],
        span=best,
        offsets=np.array(keys, dtype=np.int64).reshape(-1, 2),
        starts=values[:, 0],
        ends=values[:, 1],
    )


def _best_span(starts: np.ndarray, ends: np.ndarray, offsets: np.ndarray) -> Span | None:
    if len(starts) == 0:
        return None
    # scores[i, j] = start_i + end_j for j in [i, i + MAX_ANSWER_TOKENS)
    n = len(starts)
    scores = starts[:, None] + ends[None, :]
    i, j = np.indices((n, n))
    scores = np.where((j >= i) & (j - i < MAX_ANSWER_TOKENS), scores, -np.inf)
    flat = int(np.argmax(scores))
    a, b = divmod(flat, n)
    return Span(int(offsets[a, 0]), int(offsets[b, 1]), float(scores[a, b]))
