"""Follow-up questions rewritten to stand alone, deterministically."""

from __future__ import annotations

import pytest

from qa import standalone_question

pytestmark = pytest.mark.unit

F16 = "How many F-16s is the Netherlands sending?"


@pytest.mark.parametrize(
    ("previous", "follow_up", "expected"),
    [
        (F16, "and how many did Norway send?", "How many F-16s did Norway send?"),
        (F16, "What about Norway?", "How many F-16s is Norway sending?"),
        (F16, "And Norway?", "How many F-16s is Norway sending?"),
        (F16, "How many did they send?", "How many F-16s did the Netherlands send?"),
        (
            "Who brokered the prisoner exchange?",
            "When did it take place?",
            "When did the prisoner exchange take place?",
        ),
        ("Who brokered the prisoner exchange?", "and when?", "Who brokered the prisoner exchange, and when?"),
        ("How many drones did Russia launch?", "and how many were shot down?", "How many drones were shot down?"),
    ],
)
def test_follow_ups_take_the_subject_of_the_previous_question(previous: str, follow_up: str, expected: str) -> None:
    assert standalone_question(follow_up, [previous]) == expected


@pytest.mark.parametrize(
    "question",
    [
        "Who brokered the prisoner exchange?",
        "How many drones did Russia launch over Odesa?",
        "What did Zelensky say about the talks with Turkey and the United Arab Emirates last week in Kyiv?",
    ],
)
def test_a_standalone_question_is_left_alone(question: str) -> None:
    assert standalone_question(question, [F16]) == question


def test_without_history_nothing_is_rewritten() -> None:
    assert standalone_question("and how many did Norway send?", []) == "and how many did Norway send?"
    assert standalone_question("  and   Norway? ", ["", "  "]) == "and Norway?"


def test_a_chain_of_follow_ups_keeps_the_subject() -> None:
    history = [F16]
    history.append(standalone_question("and how many did Norway send?", history))
    assert standalone_question("What about Denmark?", history) == "How many F-16s did Denmark send?"
