"""Verdicts, aggregate metrics, the gate, run comparison and the report, on hand-made answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.chunks import Passage
from qa.evals import EvalCase, EvalRun, compare_runs, failures, write_report
from qa.evals.scoring import aggregate, score_case
from qa.grounding.answer import Answer, citation_for, refusal
from qa.grounding.citations import cited_numbers

pytestmark = pytest.mark.unit

TOLL = "The death toll in Kyiv has risen to 32."
SWAP = "230 Ukrainians were released from Russian captivity."


def passage(n: int, text: str) -> Passage:
    return Passage(n, f"c{n}", f"d{n}", f"Title {n}", "2024-01-04", "x.txt", text, 0, len(text), 0.6)


PASSAGES = [passage(1, f"Other news. {SWAP}"), passage(2, f"Kyiv. {TOLL} More.")]


def case(case_id: str = "toll", answerable: bool = True, **kw: object) -> EvalCase:
    values: dict[str, object] = {
        "id": case_id,
        "question": "How many died in Kyiv?",
        "type": "number" if answerable else "unanswerable",
        "answers": ["32"] if answerable else [],
        "evidence": [TOLL] if answerable else [],
        "doc": "x.txt" if answerable else None,
        "answerable": answerable,
        **kw,
    }
    return EvalCase.model_validate(values)


def answer(text: str) -> Answer:
    """An answer as the grounding step returns it: the text, a citation per marker, each quoting its passage."""
    by_number = {p.n: p for p in PASSAGES}
    citations = [citation_for(by_number[n], text) for n in cited_numbers(text) if n in by_number]
    return Answer(
        question="q", answer=text, refused=False, citations=citations, backend="fake", model="fake", passages=PASSAGES
    )


def test_a_right_answer_citing_the_evidence_is_correct() -> None:
    result = score_case(case(), answer("The toll rose to thirty-two [2]."))
    assert (result.verdict, result.correct, result.matched) == ("correct", True, "32")
    assert [c.supports for c in result.citations] == [True]
    assert result.evidence_rank == 2 and result.unsupported_numbers == []


def test_a_wrong_answer_says_what_was_expected_and_flags_unsourced_numbers() -> None:
    result = score_case(case(), answer("The storm cut power to 40,000 homes [1]."))
    assert result.verdict == "wrong" and not result.correct
    assert "['32']" in result.why and "40000" in result.why
    assert result.unsupported_numbers == ["40000"]


def test_refusing_an_answerable_question_is_a_miss() -> None:
    result = score_case(case(), refusal("q", PASSAGES, backend="fake", model="fake"))
    assert result.verdict == "refused" and "evidence at retrieved rank 2" in result.why


def test_refusing_an_unanswerable_question_is_right_and_answering_it_is_not() -> None:
    refused = score_case(case("tanks", answerable=False), refusal("q", PASSAGES, backend="f", model="f"))
    answered = score_case(case("tanks", answerable=False), answer("Germany sent 105 tanks [1]."))
    assert (refused.verdict, refused.correct) == ("refused_correctly", True)
    assert (answered.verdict, answered.correct) == ("answered_unanswerable", False)


def test_aggregate_metrics() -> None:
    results = [
        score_case(case("a"), answer("Thirty-two died [2].")),  # right, cites evidence
        score_case(case("b"), answer("230 were freed [1].")),  # wrong, cites a passage without evidence
        score_case(case("c"), refusal("q", PASSAGES, backend="f", model="f")),  # wrongly refused
        score_case(case("d", answerable=False), refusal("q", PASSAGES, backend="f", model="f")),
        score_case(case("e", answerable=False), answer("105 tanks [1].")),
    ]
    m = aggregate(results, k=2)
    assert (m.cases, m.answerable) == (5, 3)
    assert m.accuracy == pytest.approx(1 / 3, abs=1e-3)
    assert m.overall == pytest.approx(2 / 5)
    assert m.refusal_precision == 0.5 and m.refusal_recall == 0.5
    assert m.citation_precision == 0.5 and m.citation_recall == pytest.approx(1 / 3, abs=1e-3)
    assert m.hit_at_k == 1.0 and m.mrr == 0.5
    assert m.number_faithfulness == pytest.approx(2 / 3, abs=1e-3)  # 32 and 230 sourced, 105 not
    assert m.by_type == {"number": pytest.approx(1 / 3, abs=1e-3), "unanswerable": 0.5}
    assert set(m.latency_ms) == {"retrieve", "generate", "total"}


def _run(results: list, name: str = "s") -> EvalRun:
    return EvalRun(set=name, backend="fake", model="fake", metrics=aggregate(results, k=2), cases=results)


def test_the_gate_names_each_metric_below_its_minimum() -> None:
    run = _run([score_case(case(), answer("230 were freed [1]."))])
    assert failures(run.metrics, {"accuracy": 0.5, "hit_at_k": 0.5, "refusal_precision": 0.9}) == [
        "accuracy 0.000 < 0.500"
    ]


def test_compare_lists_fixed_and_broken_cases() -> None:
    before = _run([score_case(case("a"), answer("230 [1].")), score_case(case("b"), answer("32 [2]."))])
    after = _run([score_case(case("a"), answer("32 [2].")), score_case(case("b"), answer("230 [1]."))])
    comparison = compare_runs(before, after)
    assert {c.id: c.kind for c in comparison.cases} == {"a": "fixed", "b": "broken"}
    assert comparison.count("fixed") == 1
    accuracy = next(c for c in comparison.metrics if c.label.startswith("answer accuracy"))
    assert accuracy.delta == 0


def test_identical_runs_compare_equal() -> None:
    run = _run([score_case(case("a"), answer("32 [2]."))])
    assert compare_runs(run, run).cases == []


def test_report_writes_results_markdown_and_chart(tmp_path: Path) -> None:
    run = _run([score_case(case("a"), answer("32 [2].")), score_case(case("b"), answer("230 [1]."))])
    report = write_report(run, tmp_path / "out")
    text = report.read_text(encoding="utf-8")
    assert "| answer accuracy (answerable) | 0.500 |" in text and "![accuracy by type and latency](chart.png)" in text
    assert (tmp_path / "out" / "chart.png").read_bytes()[:4] == b"\x89PNG"
    assert EvalRun.load(tmp_path / "out").metrics == run.metrics
