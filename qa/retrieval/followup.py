"""Follow-up questions made standalone, so retrieval sees what the reader means.

"and how many did Norway send?" after "How many F-16s is the Netherlands sending?" is searched as
"How many F-16s did Norway send?". The rewrite is deterministic and only touches questions that read as
follow-ups (a leading "and" / "what about", an elliptic "how many did …", a bare pronoun); anything else is
asked as it is. No model is asked: a rewrite the reader can see and predict beats a clever one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_LEADS = re.compile(r"^(?:and|but|also|so|ok(?:ay)?|then)\b[\s,]*", re.IGNORECASE)
_ABOUT = re.compile(r"^(?:and\s+)?(?:what|how)\s+about\s+(?P<rest>.+?)\s*\??$", re.IGNORECASE)
# "how many did …", "how much was …": the quantity has lost the noun it counts.
_ELLIPTIC = re.compile(
    r"^(?P<wh>how\s+(?:many|much))\s+(?P<aux>(?:did|do|does|is|are|was|were|has|have|had|will|would|can|could)\b.*)$",
    re.IGNORECASE,
)
_COUNTED = re.compile(
    r"^how\s+(?:many|much)\s+(?P<noun>(?:[\w'-]+\s+){0,2}?[\w'-]+?)\s+"
    r"(?=(?:did|do|does|is|are|was|were|has|have|had|will|would|can|could)\b)",
    re.IGNORECASE,
)
_PRONOUNS = re.compile(r"\b(?P<p>they|them|it|that|this|those|these|he|she|there)\b", re.IGNORECASE)
_PRONOUN_ONLY = {"they", "them", "it", "that", "this", "those", "these", "he", "she"}
_WH_START = re.compile(r"^(?:who|what|when|where|why|which|how|is|are|was|were|did|do|does|has|have)\b", re.IGNORECASE)
# A proper-noun phrase: capitalised words (with "the" before them), not a word holding digits like "F-16s".
_ENTITY = re.compile(r"\b(?:the\s+)?(?:[A-Z][a-z][\w'-]*)(?:\s+(?:of\s+)?[A-Z][a-z][\w'-]*)*")
_THE_PHRASE = re.compile(r"\bthe\s+(?:[\w'-]+\s+){0,2}[\w'-]+\s*\??$", re.IGNORECASE)
_MAX_FOLLOWUP_WORDS = 12


def standalone_question(question: str, history: Sequence[str]) -> str:
    """The question rewritten to stand on its own, given the earlier questions (oldest first).

    `history` should hold the standalone forms of the earlier questions, so a chain of follow-ups keeps its
    subject. Returns the question unchanged (whitespace tidied) when it is not a follow-up.
    """
    question = " ".join(question.split())
    previous = next((" ".join(h.split()) for h in reversed(history) if h and h.strip()), "")
    if not previous or not question or len(question.split()) > _MAX_FOLLOWUP_WORDS:
        return question

    about = _ABOUT.match(question)
    if about:
        return _swap_entity(previous, about["rest"])

    had_lead = bool(_LEADS.match(question))
    core = _LEADS.sub("", question).strip()
    if not core:
        return question
    elliptic = _ELLIPTIC.match(core)
    counted = _COUNTED.match(previous)
    if elliptic and counted:
        core = f"{elliptic['wh']} {counted['noun']} {elliptic['aux']}"
        had_lead = True  # rewritten: returned as a sentence even when no pronoun follows
    elif had_lead and not _WH_START.match(core):
        # "and Norway?" — the previous question, asked of something else.
        return _swap_entity(previous, core.rstrip("?"))
    elif had_lead and len(core.split()) <= 2:
        # "and when?" — too little to search for alone: ask it of the previous question.
        return _sentence(f"{previous.rstrip('?')}, and {core.rstrip('?')}")
    pronoun = _PRONOUNS.search(core)
    if pronoun and not _entities(core):
        referent = _referent(previous, pronoun["p"].lower())
        if referent:
            start, end = pronoun.span()
            return _sentence(core[:start] + referent + core[end:])
    if had_lead:
        return _sentence(core)
    return question


def _entities(text: str) -> list[re.Match[str]]:
    # The first word of a question is capitalised anyway; it names nothing.
    return [m for m in _ENTITY.finditer(text) if m.start() > 0 and not _WH_START.match(m.group(0))]


def _swap_entity(previous: str, replacement: str) -> str:
    """The previous question with its (last) named subject replaced; or the replacement appended."""
    replacement = replacement.strip().rstrip("?").strip()
    found = _entities(previous)
    if not found:
        return _sentence(f"{previous.rstrip('?')}: {replacement}")
    last = found[-1]
    return _sentence(previous[: last.start()] + replacement + previous[last.end() :])


def _referent(previous: str, pronoun: str) -> str | None:
    if pronoun == "there":
        places = _entities(previous)
        return f"in {places[-1].group(0)}" if places else None
    if pronoun not in _PRONOUN_ONLY:
        return None
    the_phrase = _THE_PHRASE.search(previous)
    if pronoun in ("it", "that", "this") and the_phrase:
        return the_phrase.group(0).rstrip("?").strip()
    found = _entities(previous)
    if found:
        return found[-1].group(0)
    return the_phrase.group(0).rstrip("?").strip() if the_phrase else None


def _sentence(text: str) -> str:
    text = " ".join(text.split()).rstrip(" ?.")
    return text[:1].upper() + text[1:] + "?"
