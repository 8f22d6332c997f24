"""The checkable facts of a sentence — numbers, dates, names — normalised so that equal facts compare equal.

"eighteen" = 18, "2,800" = 2800, "Dec. 28" = "December 28". Used to verify answers against passages and to
score answers in the evals: both must agree on what counts as the same fact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from text_to_num import alpha2digit

from qa.text.dates import MONTH_ABBREVIATIONS, MONTH_NAMES, WEEKDAYS
from qa.text.words import GRAMMAR_WORDS

# "[1]", "[2, 3]", "[2; 3]", "[2][3]" (the last is two markers): the one pattern of a citation marker.
CITATION = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+)?")
_PUNCT = re.compile(r"[^\w\s.]|(?<!\d)\.|\.(?!\d)")
_MONTH = re.compile(r"\b(" + "|".join(MONTH_ABBREVIATIONS) + r")\b\.?(?=\s*\d)")
_CAPITALISED = re.compile(r"\b[A-Z][\w’'-]*[A-Za-z]|\b[A-Z]{2,}\b")
# Capitalised for grammar, not because they name something.
_NOT_NAMES = GRAMMAR_WORDS | frozenset(WEEKDAYS) | {"mr", "mrs", "ms", "dr", "answer", "question"}


def strip_markers(text: str) -> str:
    """Drop citation markers, so `[2]` is not read as the number 2."""
    return CITATION.sub(" ", text)


@lru_cache(maxsize=8192)
def normalize(text: str) -> str:
    """Lower case, number words as digits, no thousands separators, full month names, punctuation as spaces."""
    text = strip_markers(text).replace("\u2019", "'").replace("\u2014", " ").replace("\u2013", " ")
    # threshold=0: "two F-16s" must match "2 F-16s" too; "one of them" becoming "1 of them" is harmless,
    # since claims and sources are normalised alike.
    text = alpha2digit(text, "en", threshold=0)
    text = _THOUSANDS.sub("", text.lower())
    text = _MONTH.sub(lambda m: MONTH_ABBREVIATIONS[m[1]], text)
    text = _PUNCT.sub(" ", text)
    return " ".join(text.split())


def words(text: str) -> list[str]:
    return normalize(text).split()


def numbers_in(text: str) -> list[str]:
    """Numbers in a text (digits or words), normalised, markers excluded, in order of appearance."""
    return _NUMBER.findall(normalize(text))


MONTH_PATTERN = "|".join(MONTH_NAMES)
DATE_EXPRESSION = re.compile(
    rf"\b(?:\d{{1,2}} (?:{MONTH_PATTERN})|(?:{MONTH_PATTERN}) \d{{1,2}})\b(?: \d{{4}})?|\b(?:1[89]|20)\d{{2}}\b"
)


def quantities_in(text: str) -> list[str]:
    """Numbers that count or measure something: numbers_in without calendar dates and years."""
    return _NUMBER.findall(undated(text))


def undated(text: str) -> str:
    """The normalised text with its calendar dates and years blanked out."""
    return DATE_EXPRESSION.sub(" ", normalize(text))


def names_in(text: str) -> set[str]:
    """Capitalised words that are not sentence grammar: the people, places and bodies a claim names."""
    found = set()
    for match in _CAPITALISED.finditer(strip_markers(text)):
        # "Emirati-brokered": only the capitalised part names something.
        for part in re.split(r"[-’']", match[0]):
            word = normalize(part) if part[:1].isupper() else ""
            if word and word not in _NOT_NAMES and not word.isdigit():
                found.update(word.split())
    return found


def missing_facts(claim: str, source: str) -> list[str]:
    """Numbers and names of `claim` that `source` does not contain: a claim the source cannot back."""
    available = set(words(source))
    available.update(numbers_in(source))
    missing = [n for n in numbers_in(claim) if n not in available]
    return missing + unbacked_names(names_in(claim), available)


def unbacked_names(names: Iterable[str], available: set[str]) -> list[str]:
    """The names no word of `available` backs, sorted. "Russian" is backed by "Russia", "Ukrainian" by
    "Ukraine": names match on their first five letters."""
    prefixes = {w[:5] for w in available if len(w) >= 5}
    return sorted(name for name in names if name not in available and not (len(name) >= 5 and name[:5] in prefixes))
