"""The trained reader's short answer leads the answer, with its span in the article (issue 24)."""

from pathlib import Path

import pytest

from qa import Assistant, Citation
from qa.ui.render import answer_html, sources_html
from tests.conftest import SEED_EXCHANGE, SEED_OVERVIEW, SEEDS

pytestmark = pytest.mark.integration


def _cited(citations: list[Citation], n: int) -> Citation:
    return next(c for c in citations if c.n == n)


def test_a_number_question_leads_with_the_number_and_its_span_in_the_article(seeded: Assistant) -> None:
    answer = seeded.ask("How many F-16s is the Netherlands sending?", mode="extract")
    assert not answer.refused and answer.short_answer is not None
    short = answer.short_answer
    assert short.text.lower() in {"18", "eighteen"}
    assert answer.answer.startswith(f"{short.text} [{short.n}]. ")
    citation = _cited(answer.citations, short.n)
    assert Path(citation.source).name == SEED_OVERVIEW
    assert short.start is not None and short.end is not None
    assert citation.quote_start <= short.start < short.end <= citation.quote_end
    body = (SEEDS / SEED_OVERVIEW).read_text(encoding="utf-8")
    assert short.text in body
    assert answer.to_json()["short_answer"] == {
        "text": short.text,
        "n": short.n,
        "start": short.start,
        "end": short.end,
    }


def test_a_near_miss_is_refused_without_a_short_answer(seeded: Assistant) -> None:
    answer = seeded.ask("How many tanks did Germany send?", mode="extract")
    assert answer.refused and answer.short_answer is None
    assert answer.to_json()["short_answer"] is None


def test_a_fact_only_the_second_article_holds_is_cited_to_it(seeded: Assistant) -> None:
    answer = seeded.ask("How many drones did Ukrainian forces shoot down?", mode="extract")
    assert answer.short_answer is not None and answer.short_answer.text == "139"
    assert Path(_cited(answer.citations, answer.short_answer.n).source).name == SEED_EXCHANGE


def test_the_ui_shows_the_short_answer_first_in_bold_and_marks_it_in_its_source(seeded: Assistant) -> None:
    answer = seeded.ask("How many drones did Ukrainian forces shoot down?", mode="extract")
    html = answer_html(answer, 1)
    assert html.index('<div class="qa-short"><strong>139</strong>') < html.index('<div class="qa-answer">')
    assert '<strong class="qa-short-in">139</strong>' in sources_html(answer, 1)
