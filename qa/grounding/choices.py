"""Multiple choice from the passages: pick the option the articles state, with the passage that states it.

No model is asked. An option counts only where its words appear in a passage; among those, the one whose
mention sits closest to the question's own words wins (the sliding-window reading of MCTest, Richardson et al.
2013). When no option appears, the articles do not tell, and the answer says so instead of guessing.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from qa.chunks import Passage
from qa.text.words import FUNCTION_WORDS, stem

_WORD = re.compile(r"\w+", re.UNICODE)
_NEGATION = re.compile(r"\b(not|except|never|isn't|wasn't|doesn't|didn't|aren't|weren't)\b", re.IGNORECASE)
_NONE_OF_THE_ABOVE = re.compile(r"^\s*none of (the )?(above|these)\s*\.?\s*$", re.IGNORECASE)
# Quiz phrasing ("which of the following … this week") does not locate an option either.
_STOP = FUNCTION_WORDS | {"following", "last", "new", "we", "week", "year"}
WINDOW = 30  # words either side of a mention that count as its context


def _tokens(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(text.lower())]


def _content(text: str) -> list[str]:
    """Stemmed words without the function words, which say nothing about where an answer is."""
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP]


def is_none_of_the_above(choice: str) -> bool:
    return bool(_NONE_OF_THE_ABOVE.match(choice))


def is_negated(question: str) -> bool:
    """'Which of these is NOT …' questions want the option the articles do not name."""
    return bool(_NEGATION.search(question))


@dataclass(frozen=True)
class OptionScore:
    """Where an option is best backed: the passage, the character span of the mention's sentence, a score."""

    index: int
    score: float
    passage: Passage | None = None


def _mentions(choice: list[str], words: list[str]) -> list[int]:
    """Start positions of the option's words in the passage, as a phrase."""
    size = len(choice)
    return [i for i in range(len(words) - size + 1) if words[i : i + size] == choice]


def option_scores(question: str, choices: Sequence[str], passages: Sequence[Passage]) -> list[OptionScore]:
    """How strongly each option is stated near the question's words; 0 where it is not stated at all."""
    question_words = set(_content(question))
    texts = [_tokens(f"{p.title} {p.text}") for p in passages]
    # Rarer question words say more about where the answer is: weight them by inverse passage frequency.
    frequency = Counter(w for words in texts for w in set(words))
    weight = {w: math.log(1 + len(texts) / (1 + frequency[w])) + 0.1 for w in question_words}
    total = sum(weight.values()) or 1.0
    result = []
    for index, choice in enumerate(choices):
        option = _tokens(choice)
        if not option or is_none_of_the_above(choice):
            result.append(OptionScore(index, 0.0))
            continue
        best = OptionScore(index, 0.0)
        context_words = question_words - set(option)
        for passage, words in zip(passages, texts):
            for start in _mentions(option, words):
                around = set(words[max(0, start - WINDOW) : start + len(option) + WINDOW])
                near = sum(weight[w] for w in context_words & around) / total
                score = 0.2 + near + 0.5 * max(passage.score, 0.0)
                if score > best.score:
                    best = OptionScore(index, score, passage)
        result.append(best)
    return result


def pick(question: str, choices: Sequence[str], passages: Sequence[Passage]) -> OptionScore | None:
    """The option the passages back, or None-of-the-above's when it is offered and nothing else is backed.

    Returns None when the articles do not tell.
    """
    scores = option_scores(question, choices, passages)
    backed = [s for s in scores if s.score > 0]
    nota = next((i for i, c in enumerate(choices) if is_none_of_the_above(c)), None)
    if is_negated(question) and len(backed) >= 2:
        # "Which is not …": the options the articles name are the distractors; the odd one out is the answer.
        unbacked = [s for s in scores if s.score == 0 and s.index != nota]
        if len(unbacked) == 1:
            evidence = max(backed, key=lambda s: s.score)
            return OptionScore(unbacked[0].index, evidence.score, evidence.passage)
        if not unbacked and nota is not None:
            return OptionScore(nota, 0.0)
        return None
    if backed:
        return max(backed, key=lambda s: (s.score, -s.index))
    if nota is not None:
        return OptionScore(nota, 0.0)
    return None
