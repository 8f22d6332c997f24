"""Citation markers in answers: parsing, cleaning, and finding the quoted span. Pure functions."""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.generation.prompts import CANNOT_ANSWER
from qa.ingest.chunking import split_sentences
from qa.text.facts import CITATION
from qa.text.words import GRAMMAR_WORDS

_WORD = re.compile(r"[A-Za-z]+|\d+(?:[.,]\d+)*")


def cited_numbers(text: str) -> list[int]:
    """Passage numbers cited in `text`, in order of first appearance, each once."""
    seen: list[int] = []
    for match in CITATION.finditer(text):
        for part in re.split(r"[,;]", match[1]):
            number = int(part)
            if number not in seen:
                seen.append(number)
    return seen


def drop_invalid(text: str, count: int) -> str:
    """Remove markers that name no passage (`[7]` when there are 5), keeping the valid ones."""

    def keep(match: re.Match[str]) -> str:
        valid = [p.strip() for p in re.split(r"[,;]", match[1]) if 1 <= int(p) <= count]
        return f"[{', '.join(valid)}]" if valid else ""

    cleaned = CITATION.sub(keep, text)
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned)).strip()


_REFUSAL_VARIANT = re.compile(
    r"^(the |these |this )?(articles?|passages?|sources?) (do|does) not (answer|say|tell|mention|state)\b"
)


def is_refusal(text: str) -> bool:
    """True when the answer is the cannot-answer sentence, or a model's near-copy of it ("The article does not …")."""
    bare = CITATION.sub("", text).strip().lower()
    phrase = CANNOT_ANSWER.lower()
    return bare == phrase or bare.startswith(phrase.rstrip(".")) or bool(_REFUSAL_VARIANT.match(bare))


def content_words(text: str) -> set[str]:
    return {w.lower().replace(",", "") for w in _WORD.findall(text)} - GRAMMAR_WORDS


def sentences_citing(answer: str, number: int) -> list[str]:
    """Sentences of the answer that carry marker `number`."""
    hits = []
    for start, end in split_sentences(answer):
        sentence = answer[start:end]
        if number in cited_numbers(sentence):
            hits.append(sentence)
    return hits


def best_quote(passage: str, claims: Sequence[str]) -> tuple[int, int]:
    """Span `(start, end)` of the passage sentence sharing most content words with the claims.

    This is the quoted span a reader is shown; with no claim text, the passage's first sentence.
    """
    spans = split_sentences(passage) or [(0, len(passage))]
    wanted = set().union(*(content_words(CITATION.sub("", c)) for c in claims)) if claims else set()
    best, best_score = spans[0], 0.0
    for start, end in spans:
        words = content_words(passage[start:end])
        if not words or not wanted:
            continue
        shared = len(words & wanted)
        score = shared / (len(wanted) ** 0.5 * len(words) ** 0.5)
        if score > best_score:
            best, best_score = (start, end), score
    return best
