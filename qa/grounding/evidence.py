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

from qa.chunks import Passage
from qa.grounding.asked import about_another_day, counted_phrases, days_named, days_of_passage, focus_of, has_shape
from qa.index.embeddings import Embedder
from qa.ingest.chunking import split_sentences
from qa.text.dates import long_date
from qa.text.facts import names_in, unbacked_names, words
from qa.text.words import FUNCTION_WORDS, stem

_WORD = re.compile(r"\w+")
_PLURAL_NUMBER = re.compile(r"^(\d+)s$")
# Question words of quantity and reporting ("according to the article") do not locate a fact either.
_STOP = FUNCTION_WORDS | {"according", "article", "articles", "many", "much", "say"}
LEXICAL_WEIGHT = 0.35  # share of the question's key words in the sentence, next to cosine similarity
SHAPE_BONUS = 0.08  # a number for "how many", a date for "when"
# Per name of the question (up to two) that a sentence lacks: "How many F-16s did Norway send?" is less likely
# answered by a sentence about the Netherlands. Small, because questions also name things answers need not
# repeat ("the Kyiv victims"). How it was chosen: evals/README.md, "Seed set after grounding".
MISSING_NAME_PENALTY = 0.03
# A name of the question that the sentence's whole passage lacks: the passage is about something else.
# Chosen together with the three rules below (evals/README.md).
ABSENT_NAME_PENALTY = 0.05
# "Kyiv blamed Moscow for this.": a short sentence pointing back at what it does not say is no answer.
ANAPHOR_PENALTY = 0.15
# A question about a given day ("… on December 28?") is not answered by a sentence about another day.
OTHER_DAY_PENALTY = 0.3
# "How many tanks" is answered by a number counting tanks: a sentence whose numbers count only other things
# (cosine of what they count to what is asked below this) loses the answer shape.
MIN_FOCUS_SIMILARITY = 0.35
_ANAPHOR = re.compile(r"^\W*(?:[\w’'-]+\W+){1,5}(?:this|that|it|them|these|those)\W*$", re.IGNORECASE)


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
    def source(self) -> tuple[str, int, int]:
        """The text the sentence was read from (its passage, or its metadata statement) and its place in it."""
        if self.stated is not None:
            return self.stated, 0, len(self.stated)
        return self.passage.text, self.start, self.end

    @property
    def article_start(self) -> int:
        return self.passage.start + self.start

    @property
    def article_end(self) -> int:
        return self.passage.start + self.end


def sentences_of(passages: Sequence[Passage]) -> list[Evidence]:
    """Candidate sentences: not bare headings, long enough to state something.

    Sentences that give orders to an AI are not among them: retrieval masked them out of the passages.

    A dated article also states its own date ("X was published on January 4, 2024."): questions about
    when an article appeared are answered from its metadata, the only place that fact is.
    """
    found = []
    dated: set[str] = set()
    for passage in passages:
        if passage.date and passage.title and passage.doc_id not in dated:
            dated.add(passage.doc_id)
            day = date.fromisoformat(passage.date)
            title = passage.title.rstrip(".")
            stated = f"The article “{title}” was published on {long_date(day)}."
            found.append(Evidence(passage, 0, 0, stated=stated))
        for start, end in split_sentences(passage.text):
            text = passage.text[start:end]
            words = len(text.split())
            if words < 4:
                continue
            if words < 12 and not text.rstrip("\"'”’)").endswith((".", "!", "?", ":")):
                continue  # a heading: it announces a topic, it does not state a fact
            found.append(Evidence(passage, start, end))
    return found


def missing_names(names: set[str], text: str) -> int:
    """How many of the question's names (`names_in(question)`) a text lacks ("Ukrainian" is backed by "Ukraine")."""
    return len(unbacked_names(names, set(words(text))))


def rank(question: str, passages: Sequence[Passage], embedder: Embedder) -> list[Evidence]:
    """Passage sentences, best answer first: cosine similarity, plus the question's key words, plus shape, less
    what shows a sentence is about something else (a name its passage lacks, another day, nothing it states)."""
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
    asked_days = days_named(question)
    question_names = names_in(question)
    absent = {p.chunk_id: missing_names(question_names, f"{p.title} {p.text}") for p in passages}
    days = {p.chunk_id: days_of_passage(p.text, p.date) for p in passages} if asked_days else {}
    counts_asked = _counts_asked(question, candidates, embedder)
    ranked = []
    for i, (candidate, similarity, have) in enumerate(zip(candidates, similarities, terms)):
        passage = candidate.passage
        shape = has_shape(question, candidate.text)
        if shape:
            shape = counts_asked.get(i, True)
        overlap = sum(weight[t] for t in wanted & have) / total if total else 0.0
        score = float(similarity) + LEXICAL_WEIGHT * overlap + (SHAPE_BONUS if shape else 0.0)
        score -= MISSING_NAME_PENALTY * min(2, missing_names(question_names, candidate.text))
        score -= ABSENT_NAME_PENALTY * min(2, absent[passage.chunk_id])
        if candidate.stated is None:
            if _ANAPHOR.match(candidate.text):
                score -= ANAPHOR_PENALTY
            if asked_days and about_another_day(asked_days, candidate.text, passage.date, days[passage.chunk_id]):
                score -= OTHER_DAY_PENALTY
        ranked.append(
            (shape is False, replace(candidate, score=round(score, 4), similarity=round(float(similarity), 4)))
        )
    # An answer to "how many" holds a number, one to "who" a name: sentences without rank after all those with.
    ranked.sort(key=lambda t: (t[0], -t[1].score, t[1].passage.n, t[1].start))
    return [evidence for _, evidence in ranked]


def _counts_asked(question: str, candidates: Sequence[Evidence], embedder: Embedder) -> dict[int, bool]:
    """For "how many X": per candidate with quantities, whether one of them counts something like X."""
    focus = focus_of(question)
    if not focus:
        return {}
    phrases = {i: counted_phrases(c.text) for i, c in enumerate(candidates)}
    distinct = sorted({phrase for found in phrases.values() for phrase in found})
    if not distinct:
        return {}
    vectors = embedder.embed([focus, *distinct])
    similarity = dict(zip(distinct, (vectors[1:] @ vectors[0]).tolist()))
    return {i: max(similarity[p] for p in found) >= MIN_FOCUS_SIMILARITY for i, found in phrases.items() if found}


def similarity_matrix(claims: Sequence[str], candidates: Sequence[Evidence], embedder: Embedder) -> np.ndarray:
    """Cosine similarity of each claim (row) to each candidate sentence (column)."""
    if not claims or not candidates:
        return np.zeros((len(claims), len(candidates)), dtype=np.float32)
    vectors = embedder.embed([*claims, *(c.text for c in candidates)])
    return np.asarray(vectors[: len(claims)] @ vectors[len(claims) :].T)
