from pathlib import Path

import pytest

from qa import Assistant, InputError
from qa.retrieval.hybrid import cap_per_article, reciprocal_rank_fusion
from tests.conftest import SEED_EXCHANGE, SEED_OVERVIEW


@pytest.mark.unit
def test_rrf_rewards_items_ranked_well_by_both_retrievers() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "b", "d"]])
    assert {item for item, _ in fused[:2]} == {"b", "c"}
    assert {item for item, _ in fused} == {"a", "b", "c", "d"}


@pytest.mark.unit
def test_cap_per_article_keeps_rank_order_and_limits_each_article() -> None:
    doc_of = {"a1": "A", "a2": "A", "a3": "A", "b1": "B"}
    assert cap_per_article(["a1", "a2", "a3", "b1"], doc_of, cap=2, limit=5) == ["a1", "a2", "b1"]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("question", "article", "words"),
    [
        ("How many F-16 jets is the Netherlands sending?", SEED_OVERVIEW, "eighteen F-16s"),
        ("How many people died in Kyiv after the missile strike?", SEED_OVERVIEW, "risen to 32"),
        ("How many drones did Russia launch overnight?", SEED_EXCHANGE, "176 drones"),
        ("Which countries facilitated the talks on a prisoner swap?", SEED_EXCHANGE, "Turkey"),
    ],
)
def test_the_passage_holding_the_answer_is_retrieved_first_or_second(
    seeded: Assistant, question: str, article: str, words: str
) -> None:
    passages = seeded.retrieve(question)
    assert [p.n for p in passages] == list(range(1, len(passages) + 1))
    top = passages[:2]
    assert any(words in p.text and Path(p.source).name == article for p in top), [p.text[:80] for p in top]


@pytest.mark.integration
def test_a_date_range_leaves_out_undated_and_out_of_range_articles(seeded: Assistant) -> None:
    passages = seeded.retrieve("prisoner exchange", date_from="2024-01-01", date_to="2024-01-31")
    assert passages and all(p.date == "2024-01-04" for p in passages)
    assert seeded.retrieve("prisoner exchange", date_from="2025-01-01") == []


@pytest.mark.integration
def test_per_article_cap_limits_passages_from_one_article(seeded: Assistant) -> None:
    seeded.settings.per_article = 1
    passages = seeded.retrieve("Ukraine Russia war prisoners drones jets", top_k=5)
    assert len({p.doc_id for p in passages}) == len(passages) == 2


@pytest.mark.integration
def test_bad_date_range_is_rejected_with_the_value(seeded: Assistant) -> None:
    with pytest.raises(InputError, match="'soon'"):
        seeded.retrieve("anything", date_from="soon")
    with pytest.raises(InputError, match="after"):
        seeded.retrieve("anything", date_from="2024-02-01", date_to="2024-01-01")
