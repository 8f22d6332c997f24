"""The UI's HTML, from Answers built by hand: escaping, highlights, links, removed sentences, conflicts, refusals."""

from __future__ import annotations

import pytest

from qa import CANNOT_ANSWER, Answer, ArticleRecord, Citation, Passage
from qa.grounding.answer import Sentence
from qa.grounding.conflicts import Conflict, ConflictValue
from qa.ui import render

pytestmark = pytest.mark.unit

SCRIPT = '<script>alert("x")</script>'
BODY_OFFSET = 100  # where the passage starts in its article


def passage(n: int, text: str, title: str = "Kyiv update", score: float = 0.61) -> Passage:
    return Passage(n, f"c{n}", f"d{n}", title, "2024-01-04", f"/data/{n}.txt", text, BODY_OFFSET, 400, score)


def cited(p: Passage, quote: str) -> Citation:
    start = p.text.index(quote)
    return Citation(
        n=p.n,
        doc_id=p.doc_id,
        title=p.title,
        date=p.date,
        source=p.source,
        text=p.text,
        quote=quote,
        score=p.score,
        quote_start=BODY_OFFSET + start,
        quote_end=BODY_OFFSET + start + len(quote),
    )


def answer(text: str, passages: list[Passage], citations: list[Citation], **extra: object) -> Answer:
    values: dict[str, object] = {
        "question": "How many?",
        "answer": text,
        "refused": False,
        "citations": citations,
        "backend": "embedded",
        "model": "gemma",
        "passages": passages,
        **extra,
    }
    return Answer(**values)


def test_article_text_with_html_or_script_is_shown_as_text() -> None:
    p = passage(1, f"Officials said {SCRIPT} 32 people died.", title=f"<b>{SCRIPT}</b>")
    a = answer("32 people died [1].", [p], [cited(p, "32 people died.")])
    cards = render.sources_html(a, 1)
    chat = render.answer_html(a, 1)
    for html in (cards, chat):
        assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in cards


def test_the_quote_is_highlighted_at_its_offsets_in_the_passage() -> None:
    text = "The Netherlands is sending eighteen F-16s. Norway will supply two F-16 fighter jets to Ukraine."
    p = passage(1, text)
    cards = render.sources_html(answer("Norway sends two [1].", [p], [cited(p, "Norway will supply two F-16")]), 1)
    assert "<mark>Norway will supply two F-16</mark> fighter jets" in cards
    assert 'id="qa-src-1-1"' in cards and "score 0.61" in cards and "2024-01-04" in cards and "1.txt" in cards


def test_highlight_escapes_and_ignores_a_span_outside_the_passage() -> None:
    assert render.highlight("a <b> c", 2, 5) == "a <mark>&lt;b&gt;</mark> c"
    assert render.highlight("a <b> c", 4, 99) == "a &lt;b&gt; c"


def test_a_quote_whose_offsets_do_not_match_is_found_by_its_text() -> None:
    p = passage(1, "First sentence. Second sentence.")
    c = cited(p, "Second sentence.").model_copy(update={"quote_start": 0, "quote_end": 3})
    assert render.quote_span(c, p) == (16, 32)
    assert render.quote_span(c, None) == (16, 32)


def test_markers_link_to_their_cards_with_the_quote_on_hover_and_unknown_ones_stay_text() -> None:
    p = passage(1, "Eighteen F-16s are coming.")
    html = render.link_markers("Eighteen jets [1] <i>[7]</i>.", 3, [cited(p, "Eighteen F-16s are coming.")])
    assert '<a class="qa-cite" href="#qa-src-3-1" title="Kyiv update: “Eighteen F-16s are coming.”">[1]</a>' in html
    assert "&lt;i&gt;[7]&lt;/i&gt;" in html


def test_removed_sentences_are_struck_out_with_their_reason() -> None:
    p = passage(1, "Eighteen F-16s.")
    removed = [
        Sentence(
            text="The storm cut power to 40,000 homes [1].", citations=[1], supported=False, reason="not in [1]: 40000"
        )
    ]
    html = render.answer_html(answer("Eighteen F-16s [1].", [p], [cited(p, "Eighteen F-16s.")], removed=removed), 1)
    assert "<del>The storm cut power to 40,000 homes [1].</del>" in html
    assert "removed: not in [1]: 40000" in html


def test_conflicts_are_side_by_side_with_their_dates() -> None:
    values = [
        ConflictValue(value="230", n=1, date="2024-01-04", source="/data/1.txt"),
        ConflictValue(value="1,200", n=2, date=None, source="https://example.org/a"),
    ]
    a = answer(
        "230 [1].", [passage(1, "230"), passage(2, "1,200")], [], conflicts=[Conflict(about="number", values=values)]
    )
    html = render.answer_html(a, 2)
    assert html.count('class="qa-conflict-value"') == 2 and 'class="qa-conflict-row"' in html
    assert "2024-01-04" in html and "undated" in html and "https://example.org/a" in html
    assert 'href="#qa-src-2-2"' in html


def test_a_refusal_says_so_and_lists_the_related_passages() -> None:
    related = [passage(n, f"Passage {n} about tanks.", title=f"Article {n}") for n in (1, 2, 3, 4)]
    a = answer(CANNOT_ANSWER, related, [], refused=True)
    html = render.answer_html(a, 1)
    assert "Refused:" in html and CANNOT_ANSWER in html
    assert "Article 1" in html and "Article 3" in html and "Article 4" not in html
    cards = render.sources_html(a, 1)
    assert cards.count('class="qa-card qa-card-related"') == 3 and "<mark>" not in cards


def test_the_rewritten_question_is_shown_discreetly() -> None:
    p = passage(1, "Norway will supply two.")
    a = answer(
        "Two [1].", [p], [cited(p, "Norway will supply two.")], standalone_question="How many did <Norway> send?"
    )
    assert 'class="qa-rewritten">Searched for: “How many did &lt;Norway&gt; send?”' in render.answer_html(a, 1)


def test_backend_indicator_shows_the_fallback_reason() -> None:
    html = render.backend_html("embedded", "gemma-3-270m", "extract", "Ollama is not reachable at http://x")
    assert "embedded" in html and "gemma-3-270m" in html and "Ollama is not reachable" in html


def test_library_rows_filter_by_every_word() -> None:
    records = [
        ArticleRecord("a1", "/s/a.txt", "k", "h", "/s/a.txt", "Kyiv <update>", "2024-01-04", 3, 100),
        ArticleRecord("b2", "/s/b.md", "k", "h", "https://x.org/b", "Drones over Odesa", None, 2, 50),
    ]
    assert render.article_rows(records) == [
        ["Kyiv <update>", "2024-01-04", "a.txt", 3, "a1"],
        ["Drones over Odesa", "undated", "https://x.org/b", 2, "b2"],
    ]
    assert [r[4] for r in render.article_rows(records, "odesa UNDATED")] == ["b2"]
    assert render.article_rows(records, "nothing") == []
