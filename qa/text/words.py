"""The English word lists and the stemmer every stage shares.

`FUNCTION_WORDS` say nothing about which content words a question and a text share (evidence ranking, multiple
choice, conflicts); `GRAMMAR_WORDS` adds the words that are capitalised or repeated for grammar only (a quote's
content words, the names a claim states). BM25 keeps its own list (bm25s's English one), fixed by the index.
"""

from __future__ import annotations

import Stemmer

FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "by",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "said",
        "says",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "these",
        "they",
        "this",
        "those",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "would",
    ]
)
GRAMMAR_WORDS = FUNCTION_WORDS | frozenset(
    [
        "about",
        "according",
        "after",
        "also",
        "before",
        "but",
        "can",
        "could",
        "during",
        "however",
        "i",
        "if",
        "meanwhile",
        "no",
        "not",
        "over",
        "since",
        "then",
        "there",
        "we",
        "yes",
        "you",
        "your",
    ]
)
stem = Stemmer.Stemmer("english").stemWord
