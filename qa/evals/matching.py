"""Deterministic text matching for scoring answers: no model, no judge, same result every run.

The scorer does not share the code it scores: its normalisation below is its own, written apart from
`qa.text.facts` (what verification reads numbers and names with), so a fault there shows in the figures instead
of agreeing with itself. Only the calendar's words come from the text layer.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher

from text_to_num import alpha2digit

from qa.text.dates import MONTH_ABBREVIATIONS

_MARKERS = re.compile(r"\[[\d,;\s]+\]")
_DIGIT_GROUPS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_SHORT_MONTH = re.compile(r"\b(" + "|".join(MONTH_ABBREVIATIONS) + r")\b\.?(?=\s*\d)")
_NOT_A_WORD = re.compile(r"[^\w.]+|(?<!\d)\.|\.(?!\d)")
_NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+)?")
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize(text: str) -> str:
    """Lower case, citation markers gone, number words as digits ("thirty-two" = 32), "2,800" = 2800,
    "Dec. 28" = "december 28", anything but letters, digits and decimal points as spaces."""
    text = alpha2digit(_MARKERS.sub(" ", text), "en", threshold=0)
    text = _DIGIT_GROUPS.sub("", text.lower())
    text = _SHORT_MONTH.sub(lambda m: MONTH_ABBREVIATIONS[m[1]], text)
    return " ".join(_NOT_A_WORD.sub(" ", text).split())


def words(text: str) -> list[str]:
    return normalize(text).split()


def numbers_in(text: str) -> list[str]:
    """The numbers of a text as the scorer reads them, in order."""
    return _NUMBER.findall(normalize(text))


_SQUAD_PUNCT = set(string.punctuation)


def contains_answer(answer: str, accepted: Iterable[str]) -> str | None:
    """The first accepted answer found in `answer` as whole words after normalisation, or None."""
    haystack = f" {normalize(answer)} "
    for option in accepted:
        needle = normalize(option)
        if needle and f" {needle} " in haystack:
            return option
    return None


def unsupported_numbers(answer: str, sources: Iterable[str]) -> list[str]:
    """Numbers of the answer that appear in none of the sources: the most harmful error in news."""
    available: set[str] = set()
    for source in sources:
        available.update(numbers_in(source))
    return [n for n in numbers_in(answer) if n not in available]


def overlaps(passage: str, quote: str) -> bool:
    """Whether a passage holds a gold evidence quote, or enough of it when a chunk boundary cut it."""
    quote_words, passage_words = words(quote), words(passage)
    if not quote_words or not passage_words:
        return False
    match = SequenceMatcher(None, passage_words, quote_words, autojunk=False).find_longest_match(
        0, len(passage_words), 0, len(quote_words)
    )
    needed = min(len(quote_words), max(5, (len(quote_words) + 1) // 2))
    return match.size >= needed


def squad_normalize(text: str) -> str:
    """The SQuAD answer normalisation RealTimeQA scores with: lower, no punctuation or articles."""
    text = "".join(ch for ch in _MARKERS.sub(" ", text).lower() if ch not in _SQUAD_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    return float(squad_normalize(prediction) == squad_normalize(gold))


def token_f1(prediction: str, gold: str) -> float:
    predicted, expected = squad_normalize(prediction).split(), squad_normalize(gold).split()
    common = Counter(predicted) & Counter(expected)
    same = sum(common.values())
    if not predicted or not expected or same == 0:
        return float(predicted == expected)
    precision, recall = same / len(predicted), same / len(expected)
    return 2 * precision * recall / (precision + recall)


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """The chance that a positive scores above a negative (ties count half); None without one of each."""
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]
