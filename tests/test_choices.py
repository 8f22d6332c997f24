"""Multiple choice: the option the passages state wins, with its passage; no statement, no guess."""

from __future__ import annotations

import pytest

from qa import Assistant
from qa.chunks import Passage
from qa.grounding.choices import is_negated, is_none_of_the_above, pick


def passage(n: int, text: str, score: float = 0.5) -> Passage:
    return Passage(n, f"c{n}", f"d{n}", "Taiwan votes", "2024-01-05", "x", text, 0, len(text), score)


TAIWAN = passage(
    1,
    "Opposition politicians Hou Yu-ih and Ko Wen-je and vice president Lai Ching-te are battling to replace "
    "Tsai Ing-wen, who steps down after two terms as president.",
)
WEATHER = passage(2, "Rain is expected in Taipei on the day of the election.")
CHOICES = ["Tsai Ing-wen", "Hou Yu-ih", "Lai Ching-te", "Ko Wen-je"]


@pytest.mark.unit
def test_the_option_stated_near_the_question_words_wins() -> None:
    chosen = pick("Who is stepping down after two terms as president?", CHOICES, [WEATHER, TAIWAN])
    assert chosen is not None and chosen.index == 0 and chosen.passage == TAIWAN


@pytest.mark.unit
def test_a_negated_question_takes_the_one_option_the_passages_do_not_name() -> None:
    options = ["William Lai", "Hou Yu-ih", "Ko Wen-je", "Lai Ching-te"]
    assert is_negated("Which of these is not a candidate?")
    chosen = pick("Which of these politicians is not a candidate?", options, [TAIWAN])
    assert chosen is not None and chosen.index == 0


@pytest.mark.unit
def test_no_option_stated_means_no_answer_or_none_of_the_above() -> None:
    assert pick("Who won the election?", ["Alice", "Bob"], [WEATHER]) is None
    chosen = pick("Who won the election?", ["Alice", "Bob", "None of the above"], [WEATHER])
    assert chosen is not None and chosen.index == 2 and chosen.passage is None
    assert is_none_of_the_above("None of the above") and not is_none_of_the_above("None of them won")


@pytest.mark.integration
def test_ask_with_choices_returns_the_option_and_its_evidence(seeded: Assistant) -> None:
    answer = seeded.ask(
        "Which country brokered the largest prisoner exchange of the war?",
        choices=["Turkey", "Saudi Arabia", "United Arab Emirates", "Qatar"],
    )
    assert answer.choice == 2 and not answer.refused
    assert answer.answer.startswith("United Arab Emirates [")
    assert "brokered by the United Arab Emirates" in answer.citations[0].text


@pytest.mark.integration
def test_ask_with_choices_refuses_when_no_option_is_in_the_articles(seeded: Assistant) -> None:
    answer = seeded.ask("Which tank did Germany send to Ukraine?", choices=["Leopard 2", "Abrams", "Challenger 2"])
    assert answer.refused and answer.choice is None and answer.citations == []
