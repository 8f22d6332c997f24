"""Evidence sentences: the sentences of the retrieved passages, ranked by how directly they answer a question.

Used three ways: to verify a model's sentences (is there a passage sentence that says this?), to answer
extractively (quote the best ones), and to spot articles that disagree (their best sentences differ).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np

from qa.chunking import split_sentences
from qa.dates import long_date
from qa.embeddings import Embedder
from qa.facts import MONTH_NAMES, names_in, numbers_in, unbacked_names, words
from qa.retrieval import Passage
from qa.stopwords import FUNCTION_WORDS, stem

# Article text is data. A sentence that talks to the assistant is never evidence, never shown to the model.
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b[^.]{0,60}\b(instructions?|prompts?|rules|guidelines|above|previous)\b"
    r"|\bsystem prompt\b|\b(you are|act as) (now )?(an?|the) (ai|assistant|language model|chatbot)\b"
    r"|\b(assistant|ai|model)s?\b[^.]{0,30}\b(must|should) (answer|reply|respond|say)\b"
    r"|\b(reply|respond|answer) (only )?with\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")
_PLURAL_NUMBER = re.compile(r"^(\d+)s$")
# Question words of quantity and reporting ("according to the article") do not locate a fact either.
_STOP = FUNCTION_WORDS | {"according", "article", "articles", "many", "much", "say"}
_QUANTITY = re.compile(r"\b(how (many|much|long|far|old)|what (number|share|percentage)|toll|count)\b", re.I)
_TIME = re.compile(r"\b(when|what (day|date|time|year|month)|which (day|date|year|month))\b", re.I)
_DATE_WORDS = re.compile(
    r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|may|june|july|"
    r"august|september|october|november|december|yesterday|today|\d{4})\b",
    re.IGNORECASE,
)
# "Who" / "which country" asks for a name: an answer names someone the question does not.
_PARTY = re.compile(
    r"\b(who|whom|whose|which (country|countries|organi[sz]ation|official|party|parties|side|state|states|"
    r"outlet|region|city|minister))\b",
    re.IGNORECASE,
)
_MONTHS = frozenset(MONTH_NAMES.split("|"))
LEXICAL_WEIGHT = 0.35  # share of the question's key words in the sentence, next to cosine similarity
SHAPE_BONUS = 0.08  # a number for "how many", a date for "when"
# Per name of the question (up to two) that a sentence lacks: "How many F-16s did Norway send?" is less likely
# answered by a sentence about the Netherlands. Small, because questions also name things answers need not
# repeat ("the Kyiv victims"); calibrated on the seed set (0.03: judged right 0.51 -> 0.53).
MISSING_NAME_PENALTY = 0.03


def is_instruction(sentence: str) -> bool:
    return bool(_INSTRUCTION.search(sentence))


def key_terms(text: str) -> set[str]:
    """Stemmed content words: what a sentence must share with a question to be about the same thing."""
    # "F-16s" and "F-16" are the same jets: a plural of a number is the number.
    return {stem(_PLURAL_NUMBER.sub(r"\1", w)) for w in _WORD.findall(text.lower()) if w not in _STOP}


@dataclass(frozen=True)
class Evidence:
    """A sentence of a passage, with its place in the passage text and how well it answers."""

    passage: Passage
    start: int
    end: int
    score: float = 0.0
    similarity: float = 0.0
    stated: str | None = None  # a statement made from the article's metadata, not a span of its text

    @property
    def text(self) -> str:
        return self.stated if self.stated is not None else self.passage.text[self.start : self.end]

    @property
    def article_start(self) -> int:
        return self.passage.start + self.start

    @property
    def article_end(self) -> int:
        return self.passage.start + self.end


def sentences_of(passages: Sequence[Passage]) -> list[Evidence]:
    """Candidate sentences: not instructions, not bare headings, long enough to state something.

    A dated article also states its own date ("X was published on January 4, 2024."): questions about
    when an article appeared are answered from its metadata, the only place that fact is.
    """
    found = []
    dated: set[str] = set()
    for passage in passages:
        if passage.date and passage.doc_id not in dated:
            dated.add(passage.doc_id)
            day = date.fromisoformat(passage.date)
            title = passage.title.rstrip(".")
            stated = f"The article “{title}” was published on {long_date(day)}."
            found.append(Evidence(passage, 0, 0, stated=stated))
        for start, end in split_sentences(passage.text):
            text = passage.text[start:end]
            words = len(text.split())
            if words < 4 or is_instruction(text):
                continue
            if words < 12 and not text.rstrip("\"'”’)").endswith((".", "!", "?", ":")):
                continue  # a heading: it announces a topic, it does not state a fact
            found.append(Evidence(passage, start, end))
    return found


def has_shape(question: str, sentence: str) -> bool | None:
    """Whether a sentence has the shape of an answer: a number for "how many", a date for "when", a name the
    question does not hold for "who".

    None when the question asks for no particular shape.
    """
    if _PARTY.search(question):
        return bool(names_in(sentence) - names_in(question) - _MONTHS)
    if _QUANTITY.search(question):
        return bool(numbers_in(sentence))
    if _TIME.search(question):
        return bool(_DATE_WORDS.search(sentence))
    return None


def missing_names(question: str, sentence: str) -> int:
    """How many of the question's names the sentence lacks ("Ukrainian" is backed by "Ukraine")."""
    return len(unbacked_names(names_in(question), set(words(sentence))))


def rank(question: str, passages: Sequence[Passage], embedder: Embedder) -> list[Evidence]:
    """Passage sentences, best answer first: cosine similarity, plus the question's key words, plus shape."""
    candidates = sentences_of(passages)
    if not candidates:
        return []
    vectors = embedder.embed([question, *(c.text for c in candidates)])
    similarities = vectors[1:] @ vectors[0]
    terms = [key_terms(c.text) for c in candidates]
    wanted = key_terms(question)
    # Rare words say most about what is asked; a word no passage has (the "tanks" of a question about
    # tanks, asked of articles about jets) weighs most, and its absence pulls every sentence down.
    frequency = Counter(t for sentence in terms for t in sentence & wanted)
    weight = {t: math.log(1 + len(candidates) / (1 + frequency[t])) for t in wanted}
    total = sum(weight.values())
    ranked = []
    for candidate, similarity, have in zip(candidates, similarities, terms):
        shape = has_shape(question, candidate.text)
        overlap = sum(weight[t] for t in wanted & have) / total if total else 0.0
        score = float(similarity) + LEXICAL_WEIGHT * overlap + (SHAPE_BONUS if shape else 0.0)
        score -= MISSING_NAME_PENALTY * min(2, missing_names(question, candidate.text))
        ranked.append(
            (shape is False, replace(candidate, score=round(score, 4), similarity=round(float(similarity), 4)))
        )
    # An answer to "how many" holds a number, one to "who" a name: sentences without rank after all those with.
    ranked.sort(key=lambda t: (t[0], -t[1].score, t[1].passage.n, t[1].start))
    return [evidence for _, evidence in ranked]


def similarity_matrix(claims: Sequence[str], candidates: Sequence[Evidence], embedder: Embedder) -> np.ndarray:
    """Cosine similarity of each claim (row) to each candidate sentence (column)."""
    if not claims or not candidates:
        return np.zeros((len(claims), len(candidates)), dtype=np.float32)
    vectors = embedder.embed([*claims, *(c.text for c in candidates)])
    return np.asarray(vectors[: len(claims)] @ vectors[len(claims) :].T)
