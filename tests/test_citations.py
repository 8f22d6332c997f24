import pytest

from qa import CANNOT_ANSWER
from qa.grounding.citations import (
    best_quote,
    cited_numbers,
    drop_invalid,
    is_refusal,
    sentences_citing,
)

pytestmark = pytest.mark.unit


def test_cited_numbers_in_order_of_first_appearance_each_once() -> None:
    assert cited_numbers("A [2]. B [1][2]. C [3, 1].") == [2, 1, 3]


def test_cited_numbers_ignores_non_numeric_brackets() -> None:
    assert cited_numbers("See [a] and [1a] and [ 2 ].") == []


def test_drop_invalid_removes_markers_that_name_no_passage() -> None:
    assert drop_invalid("Eighteen jets [7]. Two jets [1][9].", 5) == "Eighteen jets. Two jets [1]."
    assert drop_invalid("Both [2, 8].", 5) == "Both [2]."
    assert drop_invalid("None [0].", 5) == "None."


def test_is_refusal_recognises_the_cannot_answer_sentence() -> None:
    assert is_refusal(CANNOT_ANSWER)
    assert is_refusal(CANNOT_ANSWER.lower() + " [1]")
    assert not is_refusal("The Netherlands is sending eighteen F-16s [1].")


def test_sentences_citing_returns_only_sentences_with_that_marker() -> None:
    answer = "Norway sends two jets [1]. The Netherlands sends eighteen [2]. Both help [1][2]."
    assert sentences_citing(answer, 2) == ["The Netherlands sends eighteen [2].", "Both help [1][2]."]


def test_best_quote_picks_the_passage_sentence_that_backs_the_claim() -> None:
    passage = (
        "It was also announced on Wednesday that Norway will supply two F-16 fighter jets to Ukraine. "
        "In addition, ten instructors are being sent to Denmark. The Netherlands is sending eighteen F-16s."
    )
    start, end = best_quote(passage, ["The Netherlands is sending eighteen F-16 jets [1]."])
    assert passage[start:end] == "The Netherlands is sending eighteen F-16s."


def test_best_quote_without_claims_falls_back_to_the_first_sentence() -> None:
    passage = "First sentence here. Second one."
    start, end = best_quote(passage, [])
    assert passage[start:end] == "First sentence here."
