"""Facts of a claim — numbers, dates, names — and relative days pinned to the article's date."""

from __future__ import annotations

import pytest

from qa.text.dates import anchor, as_stated
from qa.text.facts import missing_facts, names_in, normalize, numbers_in

pytestmark = pytest.mark.unit


def test_small_number_words_are_numbers_too() -> None:
    assert numbers_in("Norway will supply two F-16 jets and one missile") == ["2", "16", "1"]


def test_month_abbreviations_read_as_months() -> None:
    assert normalize("on Dec. 28") == normalize("on December 28")


def test_names_skip_sentence_grammar() -> None:
    assert names_in("The exchange was brokered by the United Arab Emirates on Wednesday.") == {
        "united",
        "arab",
        "emirates",
    }


def test_a_claim_with_a_number_the_source_lacks_is_caught() -> None:
    source = "The death toll in Kyiv has risen to 32. Thirty people were injured."
    assert missing_facts("32 people died in Kyiv [1].", source) == []
    assert missing_facts("thirty were hurt in Kyiv.", source) == []
    assert missing_facts("40,000 homes lost power in Kyiv.", source) == ["40000"]


def test_a_claim_naming_someone_the_source_does_not_is_caught() -> None:
    source = "The new exchange was brokered by the United Arab Emirates."
    assert missing_facts("Turkey brokered the exchange.", source) == ["turkey"]
    assert missing_facts("The Emirati-brokered exchange", "Emirates") == []  # "emirati" ~ "emirates"


def test_weekdays_are_pinned_to_the_article_date() -> None:
    text = "The largest exchange took place on Wednesday."
    assert anchor(text, "2024-01-04") == "The largest exchange took place on Wednesday, January 3, 2024."
    assert anchor("It happened on Thursday.", "2024-01-04") == "It happened on Thursday, January 4, 2024."
    assert anchor(text, None) == text


def test_a_weekday_already_dated_is_left_alone() -> None:
    assert anchor("on Wednesday, January 3", "2024-01-04") == "on Wednesday, January 3"


def test_as_stated_adds_the_dates_a_passage_implies() -> None:
    stated = as_stated("It happened yesterday.", "2024-01-04")
    assert "January 4, 2024" in stated and "yesterday (January 3, 2024)" in stated


def test_quantities_leave_out_calendar_dates() -> None:
    from qa.text.facts import quantities_in

    assert quantities_in("176 drones were launched overnight into December 3, 2023") == ["176"]
    assert quantities_in("on 28 December, 32 people died") == ["32"]
