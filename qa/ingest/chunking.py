"""Sentence-aware chunks with character offsets, each sized to fit the embedding model's window.

A chunk is a run of whole sentences, `text[start:end]` of the article body, so a citation can point
at the exact span. Sizes are counted in the embedding model's own word pieces: a chunk that overflows
the window would be silently truncated by the encoder, and whatever fell off could never be found.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from qa.chunks import Chunk
from qa.text.dates import MONTH_ABBREVIATIONS

TokenCounter = Callable[[Sequence[str]], list[int]]

# Words after which a period does not end a sentence.
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "jr",
        "sr",
        "gen",
        "col",
        "lt",
        "sgt",
        "capt",
        "sen",
        "rep",
        "gov",
        "pres",
        "no",
        "vs",
        "etc",
        "inc",
        "co",
        "corp",
        "ltd",
        *MONTH_ABBREVIATIONS,
        "u.s",
        "u.k",
        "u.n",
        "e.g",
        "i.e",
        "a.m",
        "p.m",
        "ft",
        "mt",
        "approx",
        "est",
    ]
)
# A sentence ends at . ! ? … (plus closing quotes or brackets) followed by white space and then
# anything but a lower-case letter ("in its… intelligence update" goes on).
_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[^\sa-z])")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_WORD_RUN = re.compile(r"[A-Za-z.]+")


def _is_abbreviation(text: str, dot: int) -> bool:
    # The word before the dot, looked for in the few characters before it: searching from the start of the text
    # made splitting quadratic in the article's length (a tenth of a second per long article).
    start = max(0, dot - 64)
    match = _WORD_BEFORE.search(text, start, dot)
    if match and start > 0 and _WORD_RUN.fullmatch(text, start - 1, dot):
        match = _WORD_BEFORE.search(text, 0, dot)  # a run of letters and dots longer than the window
    if not match:
        return False
    word = match[1].lower().rstrip(".")
    return word in _ABBREVIATIONS or len(word) == 1  # "J. Smith": an initial, not an end


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Spans `(start, end)` of the sentences of `text`, white space excluded.

    Blank lines and line breaks always end a sentence (headlines, list items, scraped page lines);
    inside a line, a sentence ends at terminal punctuation followed by white space, unless the word
    before it is a known abbreviation or an initial.
    """
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        line_start, line_end = line.start(), line.end()
        cursor = line_start
        for stop in _END.finditer(text, line_start, line_end):
            if text[stop.start()] == "." and stop.end() - stop.start() == 1 and _is_abbreviation(text, stop.start()):
                continue
            spans.append((cursor, stop.end()))
            cursor = stop.end()
        spans.append((cursor, line_end))
    # Trim white space and drop empties.
    trimmed = []
    for start, end in spans:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            trimmed.append((start, end))
    return trimmed


def _split_long(text: str, start: int, end: int, budget: int, count: TokenCounter) -> list[tuple[int, int]]:
    """Cut one over-long sentence at word boundaries into pieces of at most `budget` word pieces."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[start:end])]
    sizes = count([text[start + a : start + b] for a, b in words])
    pieces: list[tuple[int, int]] = []
    piece_start: int | None = None
    used = last_end = 0
    for (a, b), size in zip(words, sizes):
        if piece_start is not None and used + size > budget:
            pieces.append((start + piece_start, start + last_end))
            piece_start, used = None, 0
        if piece_start is None:
            piece_start = a
        used += size
        last_end = b
    if piece_start is not None:
        pieces.append((start + piece_start, start + last_end))
    return pieces


def chunk_text(text: str, budget: int, count: TokenCounter, overlap: int = 1) -> list[Chunk]:
    """Pack whole sentences into chunks of at most `budget` word pieces.

    `overlap` sentences from the end of a chunk start the next one (when they take at most half the
    budget), so that a fact split across a chunk boundary is still found with its context.
    """
    if budget < 8:
        raise ValueError(f"chunk budget must be at least 8 word pieces, got {budget}")
    sentences = split_sentences(text)
    sizes = count([text[a:b] for a, b in sentences])
    units: list[tuple[int, int, int]] = []
    for (a, b), size in zip(sentences, sizes):
        if size <= budget:
            units.append((a, b, size))
        else:
            pieces = _split_long(text, a, b, budget, count)
            units.extend((p, q, s) for (p, q), s in zip(pieces, count([text[p:q] for p, q in pieces])))

    chunks: list[Chunk] = []
    current: list[tuple[int, int, int]] = []
    fresh = 0  # units in `current` that no earlier chunk holds
    for unit in units:
        if current and sum(u[2] for u in current) + unit[2] > budget:
            chunks.append(_make(text, len(chunks), current))
            carried = current[-overlap:] if overlap else []
            while carried and (
                sum(u[2] for u in carried) > budget // 2 or sum(u[2] for u in carried) + unit[2] > budget
            ):
                carried = carried[1:]
            current, fresh = list(carried), 0
        current.append(unit)
        fresh += 1
    if current and fresh:
        chunks.append(_make(text, len(chunks), current))
    return chunks


def _make(text: str, index: int, units: list[tuple[int, int, int]]) -> Chunk:
    start, end = units[0][0], units[-1][1]
    return Chunk(index=index, start=start, end=end, text=text[start:end])
