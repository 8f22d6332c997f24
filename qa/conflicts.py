"""Articles that disagree on the asked fact: said out loud, with both values and their sources."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.evidence import Evidence, key_terms
from qa.facts import names_in, undated

_QUANTITY = re.compile(r"\b(how (many|much)|what (number|share|percentage)|toll|count)\b", re.IGNORECASE)
# A number someone hopes for, plans or fears is not a reported figure: it cannot contradict one.
_HEDGED = re.compile(
    r"\b(hopes?|hoping|expects?|expected|plans?|planning|aims?|potentially|possibly|could|may|might|would|"
    r"wants?|seeks?|intends?|estimates? that|up to)\b",
    re.IGNORECASE,
)
_COUNT = re.compile(r"^\d+(?:\.\d+)?$")
_PARTY = re.compile(r"\b(who|which (country|countries|organi[sz]ation|party|parties|side|state|states))\b", re.I)


@dataclass(frozen=True)
class ConflictValue:
    value: str
    evidence: Evidence


@dataclass(frozen=True)
class Conflict:
    about: str  # "number" or "party"
    values: list[ConflictValue]


def counted(text: str) -> list[tuple[str, set[str]]]:
    """The quantities of a sentence with what each counts: "230 Ukrainians were released" -> ("230", {ukrain..})."""
    tokens = undated(text).split()
    found = []
    for i, token in enumerate(tokens):
        if _COUNT.match(token):
            following = [t for t in tokens[i + 1 : i + 4] if not _COUNT.match(t)]
            found.append((token, key_terms(" ".join(following[:2]))))
    return found


def _same_thing(a: set[str], b: set[str]) -> bool:
    return any(x == y or (len(x) >= 5 and x[:5] == y[:5]) for x in a for y in b)


def _best_per_article(ranked: Sequence[Evidence], min_score: float) -> list[Evidence]:
    best: dict[str, Evidence] = {}
    for evidence in ranked:
        if evidence.score >= min_score and evidence.passage.doc_id not in best:
            best[evidence.passage.doc_id] = evidence
    return list(best.values())


def find_conflict(question: str, ranked: Sequence[Evidence], min_score: float) -> Conflict | None:
    """Two articles whose best answers to the question give different numbers, or name different parties."""
    leaders = _best_per_article(ranked, min_score)[:3]
    if len(leaders) < 2:
        return None
    if _QUANTITY.search(question):
        # Each article's figure for the asked thing: the first number that counts something the question names,
        # else its first number; two figures conflict only when they count the same thing.
        asked = key_terms(question)
        figures = []
        for evidence in leaders:
            if _HEDGED.search(evidence.text):
                continue
            quantities = counted(evidence.text)
            on_topic = [q for q in quantities if _same_thing(q[1], asked)]
            if on_topic or quantities:
                figures.append(((on_topic or quantities)[0], evidence))
        for (value, thing), evidence in figures[1:]:
            (first_value, first_thing), first = figures[0]
            if value != first_value and _same_thing(thing, first_thing):
                return Conflict("number", [ConflictValue(first_value, first), ConflictValue(value, evidence)])
        return None
    if _PARTY.search(question):
        asked = names_in(question)
        named = [(e, names_in(e.text) - asked) for e in leaders]
        values = [ConflictValue(", ".join(sorted(n.title() for n in names)), e) for e, names in named if names]
        if len(values) >= 2 and len({frozenset(v.value.split(", ")) for v in values}) > 1:
            return Conflict("party", values)
    return None
