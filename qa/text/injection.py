"""Sentences of an article that give orders to an AI ("ignore all previous instructions…"): found and masked.

Article text is data. A sentence that addresses the assistant must not reach the model, be quoted, or back an
answer; `mask` blanks such sentences out of a text, keeping every character offset, and retrieval applies it to
every passage it hands out (qa/retrieval/hybrid.py), so the prompt, the evidence sentences, verification, multiple
choice, conflicts and the source cards all read the masked text.

Detection is by known phrasings (qa/data/injection.txt, several languages), searched in the sentence as a
reader sees it (`qa.text.normalise.clean_text`: zero-width characters gone, full-width letters plain) and in its
look-alike skeleton (`fold`: "Ignоre" with a Cyrillic "о" reads as "Ignore"). It catches the known forms; a
new paraphrase can get through, which is why verification still checks every number and name of an answer
against the (masked) passage text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files

from qa.ingest.chunking import split_sentences
from qa.text.normalise import clean_text

PATTERNS = files("qa") / "data" / "injection.txt"
_LANGUAGE = re.compile(r"^#\s*([a-z]{2})\b")
_WORD_CHAR = re.compile(r"\w")
_CASED = "(?-i:"
_SENTENCE_END = ".!?…\"'”’)]"  # not ":": "New instruction:" and its message on the next line are checked together


@dataclass(frozen=True)
class Phrasing:
    """One line of the data file, compiled twice: for the sentence as written and for its skeleton."""

    language: str
    pattern: re.Pattern[str]
    folded: re.Pattern[str]
    cased: bool  # matched case-insensitively against the sentence as written, not against it lower-cased
    bounded: bool  # the line starts with \b, which is checked after the search (see `_found`)


@lru_cache(maxsize=8192)
def _fold_char(char: str) -> str:
    """One character's skeleton: accents and combining marks dropped, then its Latin look-alike (UTS #39
    confusables): a plain ASCII one where there is one (Cyrillic "о" -> "o"), else the first ("н" -> "ʜ").

    Text and patterns are folded alike, so what matters is that look-alikes end up the same, not that they
    end up ASCII."""
    from confusable_homoglyphs import confusables

    base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
    if len(base) != 1 or base.isascii():
        return base
    found = confusables.is_confusable(base, greedy=True, preferred_aliases=["latin"]) or []
    glyphs = [str(g["c"]) for entry in found for g in entry["homoglyphs"] if len(g["c"]) == 1]
    return next((g for g in glyphs if g.isascii() and g.isalnum()), glyphs[0] if glyphs else base)


class _FoldTable(dict[int, str]):
    """A `str.translate` table filled as characters turn up: ASCII maps to itself, the rest to its skeleton."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        self[code] = char if char.isascii() else _fold_char(char)
        return self[code]


_FOLD = _FoldTable()


def fold(text: str) -> str:
    """`text` with every non-ASCII character replaced by its skeleton; the same object when nothing changes."""
    if text.isascii():
        return text
    folded = text.translate(_FOLD)
    return text if folded == text else folded


def _fold_pattern(pattern: str) -> str:
    # Only the letters of a pattern are folded: an ASCII character of a pattern may be regex syntax.
    return "".join(c if c.isascii() else re.escape(_fold_char(c)) for c in pattern)


def _compile(language: str, line: str) -> Phrasing:
    text = clean_text(line)
    cased = _CASED in text
    # A leading \b makes Python's regex engine try the whole pattern at every position; without it the engine
    # skips to the characters the pattern can start with (about twice as fast over news text).
    bounded = text.startswith(r"\b")
    body = text[2:] if bounded else text
    flags = re.IGNORECASE if cased else 0
    return Phrasing(language, re.compile(body, flags), re.compile(_fold_pattern(body), flags), cased, bounded)


@cache
def phrasings() -> tuple[Phrasing, ...]:
    """The patterns of qa/data/injection.txt, compiled, with the language each is listed under."""
    language = ""
    found = []
    for number, line in enumerate(PATTERNS.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("#"):
            if match := _LANGUAGE.match(line):
                language = match[1]
            continue
        if line.strip():
            try:
                found.append(_compile(language, line.strip()))
            except re.error as exc:
                raise ValueError(f"{PATTERNS}:{number}: not a valid regular expression ({exc})") from None
    return tuple(found)


def _found(phrasing: Phrasing, pattern: re.Pattern[str], text: str) -> bool:
    match = pattern.search(text)
    while match and phrasing.bounded and match.start() and _WORD_CHAR.match(text, match.start() - 1):
        match = pattern.search(text, match.start() + 1)  # inside a word: the line's leading \b does not hold
    return match is not None


def matching(sentence: str) -> Phrasing | None:
    """The first known phrasing the sentence uses, or None."""
    text = " ".join(clean_text(sentence).split())
    if not text:
        return None
    # Lower-cased before folding, as the patterns are: "И" and "и" must fold alike.
    lower = text.lower()
    skeleton, skeleton_lower = fold(text), fold(lower)
    for phrasing in phrasings():
        written, folded = (text, skeleton) if phrasing.cased else (lower, skeleton_lower)
        # A failed search is the common case and the one to keep cheap: the word-boundary check only on a hit.
        if phrasing.pattern.search(written) and _found(phrasing, phrasing.pattern, written):
            return phrasing
        if folded is not written and phrasing.folded.search(folded) and _found(phrasing, phrasing.folded, folded):
            return phrasing
    return None


@lru_cache(maxsize=8192)
def is_instruction(sentence: str) -> bool:
    """True when the sentence addresses an AI assistant in one of the known phrasings."""
    return matching(sentence) is not None


def _wrapped(text: str, end: int, after: int) -> bool:
    """Whether the line ending at `end` runs on past a single line break: no full stop, one break."""
    return text[end - 1] not in _SENTENCE_END and text[end:after].count("\n") == 1


def flagged_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of `text` that give orders to an AI.

    A sentence broken over two lines (hard-wrapped text) is checked whole too, since the prompt joins its lines;
    and a flagged label ending in a colon ("Note to the AI:") takes the sentence after it along, its message.
    """
    spans = split_sentences(text)
    flagged = [is_instruction(text[s:e]) for s, e in spans]
    for i in range(len(spans) - 1):
        (start, end), (after, stop) = spans[i], spans[i + 1]
        if flagged[i] and text[end - 1] == ":":
            flagged[i + 1] = True
        elif _wrapped(text, end, after) and not (flagged[i] or flagged[i + 1]) and is_instruction(text[start:stop]):
            flagged[i] = flagged[i + 1] = True
    return [span for span, hit in zip(spans, flagged) if hit]


def mask(text: str) -> str:
    """`text` with each sentence that gives orders to an AI replaced by as many spaces: offsets stay valid."""
    spans = flagged_spans(text)
    if not spans:
        return text
    pieces, last = [], 0
    for start, end in spans:
        pieces += [text[last:start], " " * (end - start)]
        last = end
    pieces.append(text[last:])
    return "".join(pieces)
