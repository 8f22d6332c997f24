"""Articles that disagree on the asked fact: said out loud, with both values and their sources."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.evidence import Evidence
from qa.facts import names_in, quantities_in

_QUANTITY = re.compile(r"\b(how (many|much)|what (number|share|percentage)|toll|count)\b", re.IGNORECASE)
_PARTY = re.compile(r"\b(who|which (country|countries|organi[sz]ation|party|parties|side|state|states))\b", re.I)


@dataclass(frozen=True)
class ConflictValue:
    value: str
    evidence: Evidence


@dataclass(frozen=True)
class Conflict:
    about: str  # "number" or "party"
    values: list[ConflictValue]


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
        firsts = [(e, quantities_in(e.text)) for e in leaders]
        values = [ConflictValue(numbers[0], e) for e, numbers in firsts if numbers]
        if len(values) >= 2 and len({v.value for v in values}) > 1:
            return Conflict("number", values)
        return None
    if _PARTY.search(question):
        asked = names_in(question)
        named = [(e, names_in(e.text) - asked) for e in leaders]
        values = [ConflictValue(", ".join(sorted(n.title() for n in names)), e) for e, names in named if names]
        if len(values) >= 2 and len({frozenset(v.value.split(", ")) for v in values}) > 1:
            return Conflict("party", values)
    return None
