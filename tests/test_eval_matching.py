"""The deterministic matching the eval metrics stand on: numbers, normalisation, evidence overlap."""

from __future__ import annotations

import pytest

from qa.evals.matching import (
    contains_answer,
    exact_match,
    normalize,
    numbers_in,
    overlaps,
    percentile,
    squad_normalize,
    token_f1,
    unsupported_numbers,
)

pytestmark = pytest.mark.unit


def test_number_words_and_digits_normalise_alike() -> None:
    assert normalize("Eighteen F-16s") == normalize("18 F-16s")
    assert normalize("thirty-two dead") == "32 dead"


def test_a_planted_unsupported_number_is_caught_even_when_verification_reads_no_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import qa.text.facts as facts

    # A verification whose number reading is broken would call every answer faithful; the scorer reads its own way.
    monkeypatch.setattr(facts, "numbers_in", lambda text: [])
    monkeypatch.setattr(facts, "normalize", lambda text: "")
    source = "Russia launched 176 drones overnight, the air force said."
    assert unsupported_numbers("Russia launched 1,760 drones [1].", [source]) == ["1760"]
    assert unsupported_numbers("Russia launched one hundred seventy-six drones [1].", [source]) == []


def test_thousands_separators_are_dropped() -> None:
    assert normalize("more than 2,800 Ukrainians") == "more than 2800 ukrainians"


def test_accepted_answer_is_found_after_normalisation() -> None:
    assert contains_answer("The toll rose to thirty-two [1].", ["32"]) == "32"
    assert contains_answer("Some 2,800 were freed [2].", ["2800"]) == "2800"
    assert (
        contains_answer("It was the United Arab Emirates.", ["UAE", "united arab emirates"]) == "united arab emirates"
    )


def test_accepted_answer_must_match_whole_words() -> None:
    assert contains_answer("In 2300 people were freed.", ["230"]) is None
    assert contains_answer("Ukraine [230] says", ["230"]) is None  # a marker is not an answer


def test_citation_markers_are_not_numbers() -> None:
    assert numbers_in("About 1,200 prisoners [2][3], on December 3, 2023 [1].") == ["1200", "3", "2023"]


def test_numbers_missing_from_the_cited_sources_are_reported() -> None:
    sources = ["The death toll in Kyiv has risen to 32.", "thirty people were injured"]
    assert unsupported_numbers("32 died and 30 were hurt [1].", sources) == []
    assert unsupported_numbers("40,000 homes lost power [1].", sources) == ["40000"]


def test_evidence_overlap_tolerates_a_quote_cut_by_a_chunk_boundary() -> None:
    quote = "The largest exchange of prisoners of war to date took place on Wednesday and the first since last summer."
    assert overlaps(f"Intro. {quote} More text.", quote)
    assert overlaps("The largest exchange of prisoners of war to date took place on Wednesday", quote)
    assert not overlaps("Prisoners of war were exchanged.", quote)


def test_squad_normalisation_drops_articles_and_punctuation() -> None:
    assert squad_normalize("The Tsai Ing-wen!") == "tsai ingwen"
    assert exact_match("the United States", "United States") == 1.0


def test_token_f1_gives_partial_credit() -> None:
    assert token_f1("President Joe Biden", "Joe Biden") == pytest.approx(0.8)
    assert token_f1("", "Joe Biden") == 0.0


def test_percentile_is_nearest_rank() -> None:
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert percentile([1.0, 2.0], 95) == 2.0
    assert percentile([], 50) is None
