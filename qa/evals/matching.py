"""Deterministic text matching for scoring answers: no model, no judge, same result every run.

Normalisation lives in `qa.text.facts`, shared with answer verification, so both agree on what is the same fact.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher

from qa.text.facts import normalize, numbers_in, strip_markers, words

_ARTICLES = re.compile(r"\b(a|an|the)\b")
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
    text = "".join(ch for ch in strip_markers(text).lower() if ch not in _SQUAD_PUNCT)
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
