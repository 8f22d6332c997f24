"""What a question asks for: answer shape, the thing counted, the day named."""

from __future__ import annotations

import pytest

from qa.grounding.asked import about_another_day, counted_phrases, days_named, days_of_passage, focus_of, has_shape


@pytest.mark.unit
def test_a_how_many_question_counts_the_words_before_its_verb() -> None:
    assert focus_of("How many tanks is Norway sending to Ukraine?") == "tanks"
    assert focus_of("In that same swap, how many Russian captives were sent back to Russia?") == "Russian captives"
    assert focus_of("How many of those drones did Ukraine's defenders destroy?") == "drones"
    assert focus_of("How many people died across the whole of Ukraine?") == "people"
    assert focus_of("When was the attack?") is None


@pytest.mark.unit
def test_each_quantity_of_a_sentence_comes_with_what_it_counts() -> None:
    assert counted_phrases("248 Russian prisoners also returned home.") == ["russian prisoners"]
    assert counted_phrases("The Netherlands is sending eighteen F-16s.") == ["f 16s"]
    # A calendar day counts nothing; a number at the end of a sentence counts what came before it.
    assert counted_phrases("On December 28 the death toll rose to 32.") == ["toll rose"]


@pytest.mark.unit
def test_a_calendar_day_is_not_a_quantity() -> None:
    question = "How many missiles did Russia fire on December 28?"
    assert has_shape(question, "The major Russian missile attack of December 28 is still being felt.") is False
    assert has_shape(question, "Russia fired 122 missiles.") is True


@pytest.mark.unit
def test_days_are_recognised_however_they_are_written() -> None:
    assert days_named("on Dec. 28 and 3 January") == {("december", 28), ("january", 3)}
    # "Wednesday" in an article of Thursday, January 4, 2024 is January 3; the article's own date counts too.
    assert days_of_passage("The swap took place on Wednesday.", "2024-01-04") == {("january", 3), ("january", 4)}


@pytest.mark.unit
def test_a_sentence_about_another_day_cannot_answer_for_the_asked_day() -> None:
    asked = days_named("How many missiles did Russia fire at Kyiv on December 28?")
    passage_days = {("december", 28), ("january", 4)}
    assert about_another_day(asked, "176 drones were launched in the night to December 3.", None, passage_days)
    assert not about_another_day(asked, "Russia fired 122 missiles on December 28.", None, passage_days)
    # A sentence naming no day is read in its passage: fine when the passage is about the asked day.
    assert not about_another_day(asked, "Russia fired 122 missiles.", None, passage_days)
    assert about_another_day(asked, "Russia fired 122 missiles.", None, {("january", 4)})
