"""The short answer: the reader's best span inside the sentence an answer rests on ("18", "the United Arab
Emirates"). It leads the answer (qa/grounding/ground.py), and compared across articles it shows where they disagree
(qa/grounding/conflicts.py)."""

from __future__ import annotations

from dataclasses import dataclass

from qa.grounding.evidence import Evidence
from qa.reader.runtime import Reader


@dataclass(frozen=True)
class Short:
    """The short answer: characters [start, end) of the evidence's source (its passage, or its metadata statement)."""

    text: str
    evidence: Evidence
    start: int
    end: int
    margin: float  # how much the reader prefers the span to "no answer" (start + end logits); > 0: preferred


def answers_in(question: str, evidence: Evidence, reader: Reader) -> bool:
    """Whether the reader prefers some span of the sentence to "no answer": it finds the question answered there."""
    source, start, end = evidence.source
    span = reader.read(question, [source])[0].span_within(start, end)
    return span is not None and span.margin > 0


def short_answer(question: str, evidence: Evidence, reader: Reader, min_margin: float | None = None) -> Short | None:
    """The reader's best span inside the sentence that answers, when the span says less than the whole sentence
    (a quote that is all answer needs no lead) and, with `min_margin`, when the reader prefers it to no answer by
    more than that."""
    source, start, end = evidence.source
    span = reader.read(question, [source])[0].span_within(start, end)
    if span is None or (min_margin is not None and span.margin <= min_margin):
        return None
    text = source[span.start : span.end]
    trimmed = text.strip(" ,;:.\"'“”‘’()")
    if not trimmed or len(trimmed) >= 0.8 * len(" ".join(evidence.text.split())):
        return None
    at = span.start + text.index(trimmed)
    return Short(" ".join(trimmed.split()), evidence, at, at + len(trimmed), span.margin)
