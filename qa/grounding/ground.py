"""From passages (and a model's draft) to a grounded answer: verified sentences, or quoted evidence, or a refusal.

generate: the model drafts; each sentence is verified against the passages; unsupported ones are removed.
          If none survives, the answer falls back to extract. A model's refusal stands.
extract:  the best evidence sentences are quoted with their citations; no model is asked.
Either way: relative days are pinned to the article's date, disagreeing articles are shown side by side,
and when no sentence clears the evidence threshold, the assistant says the articles do not tell.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from qa.chunks import Passage
from qa.grounding.citations import is_refusal
from qa.grounding.conflicts import Conflict, find_conflict
from qa.grounding.evidence import Evidence, rank
from qa.grounding.verify import SentenceCheck, verify
from qa.index.embeddings import Embedder
from qa.reader.runtime import Reader
from qa.reader.scoring import AnswerMix, rescore
from qa.reader.short import Short, answers_in, short_answer
from qa.text.dates import anchor, long_date

_LATEST = re.compile(r"\b(latest|now|current(ly)?|so far|to date|most recent|still|yet)\b", re.IGNORECASE)
SECOND_SENTENCE_MARGIN = 0.08  # a second quote, from another article, when it scores this close to the first


@dataclass
class Grounded:
    text: str
    mode: str
    sentences: list[SentenceCheck] = field(default_factory=list)
    removed: list[SentenceCheck] = field(default_factory=list)
    conflict: Conflict | None = None
    refused: bool = False
    short: Short | None = None  # the reader's short answer, which leads the answer text


def _quote(evidence: Evidence) -> SentenceCheck:
    text = anchor(" ".join(evidence.text.split()), evidence.passage.date)
    stop = text[-1] if text[-1] in ".!?" else ""
    body = text[: len(text) - len(stop)] if stop else text
    return SentenceCheck(f"{body} [{evidence.passage.n}]{stop or '.'}", [evidence.passage.n], True, evidence, "")


def _extract(ranked: Sequence[Evidence], min_score: float, second_margin: float) -> list[SentenceCheck]:
    if not ranked or ranked[0].score < min_score:
        return []
    chosen = [ranked[0]]
    for evidence in ranked[1:]:
        if evidence.score < max(min_score, ranked[0].score - second_margin):
            break
        if evidence.passage.doc_id != ranked[0].passage.doc_id:
            chosen.append(evidence)
            break
    return [_quote(e) for e in chosen]


def _conflict_sentence(conflict: Conflict) -> str:
    parts = []
    for value in conflict.values:
        parts.append(f"[{value.n}] ({long_date_of(value.date)}) gives {value.value}")
    return "The articles differ: " + "; ".join(parts) + "."


def long_date_of(iso: str | None) -> str:
    from datetime import date

    return long_date(date.fromisoformat(iso)) if iso else "undated"


def _as_of(question: str, sentences: Sequence[SentenceCheck]) -> str:
    """For "latest"/"now" questions: the date of the newest article the answer rests on."""
    if not _LATEST.search(question):
        return ""
    dates = sorted(s.evidence.passage.date for s in sentences if s.evidence and s.evidence.passage.date)
    return f"As of {long_date_of(dates[-1])}: " if dates else ""


def ground(
    question: str,
    passages: Sequence[Passage],
    embedder: Embedder,
    reader: Reader | None = None,
    *,
    draft: str | None,
    min_evidence: float,
    min_support: float,
    min_short_margin: float | None = None,
    mix: AnswerMix | None = None,
) -> Grounded:
    """The answer the user sees. `draft` is the model's text, or None to answer extractively. With a `reader`,
    the answer leads with its short answer from the sentence backing the first answer sentence ("18 [1]. …").
    With a `mix` too, sentences are ordered by the answer score (qa/reader/scoring.py), and `min_evidence` is a
    threshold on it."""
    ranked = rank(question, passages, embedder)
    second_margin = SECOND_SENTENCE_MARGIN
    if mix is not None and reader is not None:
        ranked = rescore(question, ranked, reader, mix)
        second_margin = mix.rules_units(SECOND_SENTENCE_MARGIN)
    kept: list[SentenceCheck] = []
    removed: list[SentenceCheck] = []
    mode = "extract"
    if draft is not None and is_refusal(draft):
        # The model read the passages and found no answer: that is a finding, not a claim to verify.
        return Grounded(text="", mode="generate", refused=True)
    if draft is not None and draft.strip():
        checks = verify(draft, passages, embedder, min_support=min_support)
        kept = [c for c in checks if c.supported]
        removed = [c for c in checks if not c.supported]
        # A draft is only trusted when the evidence says the articles answer the question at all, and when the
        # reader finds the question answered in the sentence backing one of its sentences: a true sentence
        # beside the point is no answer.
        on_point = reader is None or any(
            c.evidence is not None and answers_in(question, c.evidence, reader) for c in kept
        )
        if kept and on_point and ranked[0].score >= min_evidence:
            mode = "generate"
            kept = [
                SentenceCheck(
                    anchor(c.text, c.evidence.passage.date if c.evidence else None), c.citations, True, c.evidence, ""
                )
                for c in kept
            ]
        else:
            removed, kept = removed + kept, []
    if not kept:
        kept = _extract(ranked, min_evidence, second_margin)
    if not kept:
        return Grounded(text="", mode=mode, removed=removed, refused=True)
    conflict = find_conflict(question, ranked, min_evidence, reader) if reader is not None else None
    backing = kept[0].evidence
    short = (
        short_answer(question, backing, reader, min_short_margin)
        if reader is not None and backing is not None
        else None
    )
    text = _as_of(question, kept) + " ".join(c.text for c in kept)
    if short is not None:
        text = f"{short.text} [{short.evidence.passage.n}]. {text}"
    if conflict:
        text += " " + _conflict_sentence(conflict)
    return Grounded(text=text, mode=mode, sentences=kept, removed=removed, conflict=conflict, short=short)
