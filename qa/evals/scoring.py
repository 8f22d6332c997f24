"""Judging one answer against its case, and the run's aggregate metrics. Pure functions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from qa.evals.cases import EvalCase
from qa.evals.matching import contains_answer, numbers_in, overlaps, percentile, unsupported_numbers
from qa.evals.results import CaseResult, CitationCheck, Latency, Metrics
from qa.grounding.answer import Answer
from qa.text.dates import as_stated


def _holds_evidence(text: str, evidence: Sequence[str]) -> bool:
    return any(overlaps(text, quote) for quote in evidence)


def score_case(case: EvalCase, answer: Answer) -> CaseResult:
    """The verdict on one answer, with the reason a reader needs to trust or fix it."""
    citations = [
        CitationCheck(n=c.n, title=c.title, quote=c.quote, supports=_holds_evidence(c.text, case.evidence))
        for c in answer.citations
    ]
    rank = next((i for i, p in enumerate(answer.passages, 1) if _holds_evidence(p.text, case.evidence)), None)
    matched = None if answer.refused else contains_answer(answer.answer, case.answers)
    numbers = [] if answer.refused else numbers_in(answer.answer)
    # A cited passage backs its words and the dates its article's date implies ("Wednesday" → January 3).
    sources = [f"{c.title}. {as_stated(c.text, c.date)}" for c in answer.citations]
    unsupported = [] if answer.refused else unsupported_numbers(answer.answer, sources)
    where = f"evidence at retrieved rank {rank}" if rank else "evidence not among the retrieved passages"

    if case.answerable and answer.refused:
        verdict, why = "refused", f"refused, but the articles tell ({where})"
    elif case.answerable and matched:
        verdict, why = "correct", f"holds {matched!r}"
    elif case.answerable:
        verdict, why = "wrong", f"holds none of {case.answers} ({where})"
    elif answer.refused:
        verdict, why = "refused_correctly", "refused; the articles do not tell"
    else:
        verdict, why = "answered_unanswerable", "answered although the articles do not tell"
    if unsupported:
        why += f"; numbers not in any cited passage: {', '.join(unsupported)}"

    timings = answer.timings_ms
    return CaseResult(
        id=case.id,
        type=case.type,
        question=case.question,
        answerable=case.answerable,
        answer=answer.answer,
        refused=answer.refused,
        verdict=verdict,
        correct=verdict in ("correct", "refused_correctly"),
        why=why,
        matched=matched,
        citations=citations,
        evidence_rank=rank,
        retrieved=len(answer.passages),
        numbers=numbers,
        unsupported_numbers=unsupported,
        retrieve_ms=timings.retrieve,
        generate_ms=timings.generate,
        total_ms=timings.total,
    )


def _share(part: float, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def aggregate(results: Sequence[CaseResult], *, k: int) -> Metrics:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    refused = [r for r in results if r.refused]
    cited = [c for r in answerable for c in r.citations]
    numbers = sum(len(r.numbers) for r in results)
    unsupported = sum(len(r.unsupported_numbers) for r in results)

    by_type: dict[str, list[bool]] = defaultdict(list)
    for r in results:
        by_type[r.type].append(r.correct)

    def latency(values: list[float]) -> Latency:
        p50, p95 = percentile(values, 50), percentile(values, 95)
        return Latency(p50=p50 and round(p50, 1), p95=p95 and round(p95, 1))

    return Metrics(
        cases=len(results),
        answerable=len(answerable),
        accuracy=_share(sum(r.verdict == "correct" for r in answerable), len(answerable)) or 0.0,
        overall=_share(sum(r.correct for r in results), len(results)) or 0.0,
        refusal_precision=_share(sum(not r.answerable for r in refused), len(refused)),
        refusal_recall=_share(sum(r.refused for r in unanswerable), len(unanswerable)),
        citation_precision=_share(sum(c.supports for c in cited), len(cited)),
        citation_recall=_share(sum(any(c.supports for c in r.citations) for r in answerable), len(answerable)),
        hit_at_k=_share(sum(r.evidence_rank is not None for r in answerable), len(answerable)),
        mrr=_share(sum(1 / r.evidence_rank for r in answerable if r.evidence_rank), len(answerable)),
        number_faithfulness=_share(numbers - unsupported, numbers),
        k=k,
        by_type={t: round(sum(v) / len(v), 4) for t, v in sorted(by_type.items())},
        latency_ms={
            "retrieve": latency([r.retrieve_ms for r in results]),
            "generate": latency([r.generate_ms for r in results]),
            "total": latency([r.total_ms for r in results]),
        },
    )
