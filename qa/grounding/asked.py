"""What a question asks for: the shape of its answer, the thing it counts, the day it names.

"How many tanks is Norway sending?" wants a number that counts tanks; "When did …" wants a date; "Who …"
wants a name the question does not hold; "… on December 28?" is about that day and no other. The evidence
ranking uses these to tell an answer from a sentence that is merely about the same story.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from qa.text.dates import MONTH_NAMES, WEEKDAYS, anchor, long_date
from qa.text.facts import MONTH_PATTERN, names_in, normalize, quantities_in, undated
from qa.text.words import FUNCTION_WORDS

_QUANTITY = re.compile(r"\b(how (many|much|long|far|old)|what (number|share|percentage)|toll|count)\b", re.I)
_TIME = re.compile(r"\b(when|what (day|date|time|year|month)|which (day|date|year|month))\b", re.I)
_DATE_WORDS = re.compile(r"\b(" + "|".join([*WEEKDAYS, *MONTH_NAMES]) + r"|yesterday|today|\d{4})\b", re.IGNORECASE)
# "Who" / "which country" asks for a name: an answer names someone the question does not.
_PARTY = re.compile(
    r"\b(who|whom|whose|which (country|countries|organi[sz]ation|official|party|parties|side|state|states|"
    r"outlet|region|city|minister))\b",
    re.IGNORECASE,
)
_MONTHS = frozenset(MONTH_NAMES)
_HOW_MANY = re.compile(r"\bhow many\s+(?:of\s+)?(?:(?:the|those|these|them|its|their)\s+)?([^?.,;]*)", re.I)
# Where the counted thing ends and the rest of the question begins ("tanks | is Norway sending").
_FOCUS_END = frozenset(
    [
        "did",
        "do",
        "does",
        "were",
        "was",
        "are",
        "is",
        "have",
        "has",
        "had",
        "will",
        "would",
        "can",
        "could",
        "should",
        "shall",
        "may",
        "might",
        "must",
        "in",
        "on",
        "at",
        "during",
        "according",
        "to",
        "since",
        "for",
        "from",
        "by",
        "that",
        "who",
        "which",
        "than",
    ]
)
_COUNT = re.compile(r"^\d+(?:\.\d+)?$")
_DAY_OF_MONTH = re.compile(rf"\b(?:(\d{{1,2}}) ({MONTH_PATTERN})|({MONTH_PATTERN}) (\d{{1,2}}))\b")

Day = tuple[str, int]


def has_shape(question: str, sentence: str) -> bool | None:
    """Whether a sentence has the shape of an answer: a quantity for "how many" (a calendar day is none), a date
    for "when", a name the question does not hold for "who". None when the question asks for no shape."""
    if _PARTY.search(question):
        return bool(names_in(sentence) - names_in(question) - _MONTHS)
    if _QUANTITY.search(question):
        return bool(quantities_in(sentence))
    if _TIME.search(question):
        return bool(_DATE_WORDS.search(sentence))
    return None


def focus_of(question: str) -> str | None:
    """What a "how many" question counts: "How many Russian captives were sent back?" -> "Russian captives"."""
    match = _HOW_MANY.search(question)
    if not match:
        return None
    kept: list[str] = []
    for token in match[1].split():
        # A verb ends the counted thing too: "How many people died across Ukraine?" counts people.
        if token.lower() in _FOCUS_END or (kept and token.lower().endswith("ed")):
            break
        kept.append(token)
    return " ".join(kept[:4]) or None


def counted_phrases(sentence: str) -> list[str]:
    """What each quantity of a sentence counts: the words after it ("248 Russian prisoners"), else the words
    before it ("the toll has risen to 32")."""
    tokens = undated(sentence).split()
    phrases = []
    for i, token in enumerate(tokens):
        if not _COUNT.match(token):
            continue
        after = [t for t in tokens[i + 1 : i + 3] if not _COUNT.match(t) and t not in FUNCTION_WORDS]
        before = [t for t in tokens[max(0, i - 4) : i] if not _COUNT.match(t) and t not in FUNCTION_WORDS]
        phrase = " ".join(after or before[-2:])
        if phrase:
            phrases.append(phrase)
    return phrases


def days_named(text: str) -> set[Day]:
    """The calendar days a text names, as (month, day): "Dec. 28" and "28 December" alike."""
    found = set()
    for match in _DAY_OF_MONTH.finditer(normalize(text)):
        month, day = (match[2], match[1]) if match[1] else (match[3], match[4])
        found.add((month, int(day)))
    return found


def days_of_passage(text: str, article_date: str | None) -> set[Day]:
    """The days a passage is about: those it names, its weekdays pinned to the article's date, and that date."""
    days = days_named(anchor(text, article_date))
    if article_date:
        days |= days_named(long_date(date.fromisoformat(article_date)))
    return days


def about_another_day(asked: set[Day], sentence: str, article_date: str | None, passage_days: Iterable[Day]) -> bool:
    """A sentence that cannot be about the asked day: it names other days, or names none in a passage that
    never mentions the asked one ("176 drones … December 3" for "How many missiles … on December 28?")."""
    own = days_named(anchor(sentence, article_date))
    return not (asked & own) if own else not (asked & set(passage_days))
