"""Claim verification: each sentence of an answer must be backed by a passage it cites.

Backed means both: every number and name of the sentence occurs in the passage (normalised), and the
passage has a sentence that says much the same (cosine similarity with the bundled encoder). A sentence
backed by another passage than the one it cites is re-cited; a sentence no passage backs is removed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.chunks import Passage
from qa.grounding.citations import cited_numbers
from qa.grounding.evidence import Evidence, sentences_of, similarity_matrix
from qa.index.embeddings import Embedder
from qa.ingest.chunking import split_sentences
from qa.text.dates import as_stated
from qa.text.facts import CITATION, missing_facts, strip_markers


@dataclass(frozen=True)
class SentenceCheck:
    """One sentence of an answer and what backs it."""

    text: str  # as it stands in the answer, markers included (re-pointed when repaired)
    citations: list[int]
    supported: bool
    evidence: Evidence | None  # the passage sentence that backs it
    reason: str  # why it is not backed, for the UI and the eval report


def _with_citation(sentence: str, n: int) -> str:
    bare = CITATION.sub("", sentence).strip()
    bare = re.sub(r"\s+([.!?])$", r"\1", bare)
    stop = bare[-1] if bare and bare[-1] in ".!?" else ""
    return f"{bare[: len(bare) - len(stop)].rstrip()} [{n}]{stop}"


def verify(answer: str, passages: Sequence[Passage], embedder: Embedder, *, min_support: float) -> list[SentenceCheck]:
    """Check every sentence of `answer` against the passages; repaired citations are in `text`."""
    by_number = {p.n: p for p in passages}
    claims = [answer[s:e] for s, e in split_sentences(answer)]
    claims = [c for c in claims if strip_markers(c).strip(" .")]
    candidates = sentences_of(passages)
    similarity = similarity_matrix([strip_markers(c) for c in claims], candidates, embedder)
    checks = []
    for row, claim in enumerate(claims):
        bare = " ".join(strip_markers(claim).split())
        cited = [n for n in cited_numbers(claim) if n in by_number]
        best: dict[int, tuple[float, Evidence]] = {}
        for column, candidate in enumerate(candidates):
            score = float(similarity[row, column])
            n = candidate.passage.n
            if n not in best or score > best[n][0]:
                best[n] = (score, candidate)
        # The cited passages first, then the others by how close their best sentence is.
        order = cited + sorted((n for n in best if n not in cited), key=lambda n: -best[n][0])
        backing: tuple[int, Evidence] | None = None
        reasons = []
        for n in order:
            if n not in best:
                continue
            score, candidate = best[n]
            passage = by_number[n]
            missing = missing_facts(bare, f"{passage.title}. {as_stated(passage.text, passage.date)}")
            if not missing and score >= min_support:
                backing = (n, candidate)
                break
            if n in cited:
                why = f"not in [{n}]: {', '.join(missing)}" if missing else f"[{n}] says nothing close ({score:.2f})"
                reasons.append(why)
        if backing is None:
            reason = "; ".join(reasons) or "no passage says this"
            checks.append(SentenceCheck(claim, cited, False, None, reason))
            continue
        n, evidence = backing
        text = claim if n in cited else _with_citation(claim, n)
        checks.append(SentenceCheck(text, [n], True, evidence, ""))
    return checks
