"""Articles that disagree on the asked fact, said out loud with each value and its article's date.

The values are the reader's short answers (qa/reader/short.py) in each article's best sentence, where the reader
prefers its span to "no answer": so both sentences answer the question asked, not merely share a topic (the gates
tried, and why this one: evals/README.md). Two values differ when they are of one kind (dates, figures, or other
words) and, normalised ("eighteen" = "18", "2,800" = "2800", "Dec. 28" = "December 28"), share no date, no figure,
or no content word. Only one value per story is taken (an article's near-duplicate copies are one story,
qa/ingest/stories.py), so an article, or a wire copy of it, never disagrees with itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from qa.grounding.evidence import Evidence
from qa.reader.runtime import Reader
from qa.reader.short import Short, short_answer
from qa.text.facts import DATE_EXPRESSION, normalize, quantities_in, words
from qa.text.words import FUNCTION_WORDS

MAX_ARTICLES = 3  # the best-scoring articles compared; further ones rest on weaker evidence


class ConflictValue(BaseModel):
    value: str
    n: int = Field(description="The passage that gives it: [n].")
    date: str | None = Field(description="Its article's date, YYYY-MM-DD, or None for an undated article.")
    source: str


class Conflict(BaseModel):
    about: str = Field(description="'date', 'number' (figures) or 'answer': what the articles disagree on.")
    values: list[ConflictValue]


def _best_per_story(ranked: Sequence[Evidence], min_score: float) -> list[Evidence]:
    best: dict[str, Evidence] = {}
    for evidence in ranked:
        story = evidence.passage.story or evidence.passage.doc_id
        if evidence.score >= min_score and evidence.stated is None and story not in best:
            best[story] = evidence
    return list(best.values())


def _key(value: str) -> tuple[str, frozenset[str]]:
    """The kind of a value and what it says: a date ("december 3 2023"), figures, or else its content words."""
    dates = DATE_EXPRESSION.findall(normalize(value))
    if dates:
        return "date", frozenset(dates)
    numbers = quantities_in(value)
    if numbers:
        return "number", frozenset(numbers)
    return "answer", frozenset(w for w in words(value) if w not in FUNCTION_WORDS)


def find_conflict(question: str, ranked: Sequence[Evidence], min_score: float, reader: Reader) -> Conflict | None:
    """The short answers of the best articles, when at least two of them give different values of one kind."""
    leaders = _best_per_story(ranked, min_score)[:MAX_ARTICLES]
    if len(leaders) < 2:
        return None
    shorts = [s for e in leaders if (s := short_answer(question, e, reader, min_margin=0.0)) is not None]
    if len(shorts) < 2:
        return None
    (kind, first), lead = _key(shorts[0].text), shorts[0]
    differing = [
        s for s in shorts[1:] if (other := _key(s.text))[0] == kind and first and other[1] and not first & other[1]
    ]
    return Conflict(about=kind, values=[_value(lead), *(_value(s) for s in differing)]) if differing else None


def _value(short: Short) -> ConflictValue:
    passage = short.evidence.passage
    return ConflictValue(value=short.text, n=passage.n, date=passage.date, source=passage.source)
