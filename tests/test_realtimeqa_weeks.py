"""RealTimeQA week ranges: `parse_weeks`, the split names, `weeks_between`, `qa eval --weeks`, and the report
naming the data it ran on. No model: the benchmark's assistant is replaced by one that picks the first choice."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner, Result

from qa.errors import InputError, QAError
from qa.evals.realtimeqa import (
    SPLITS,
    Question,
    RealTimeQARun,
    parse_weeks,
    run_realtimeqa,
    select,
    weeks_between,
)
from qa.evals.report import realtimeqa_data

pytestmark = pytest.mark.unit

# Both separators occur in the real questions.jsonl, and one quiz carries a 2023 date.
DATES = {
    "q1": "2024/01/05",
    "q2": "2024-02-09",
    "q3": "2024/03/29",
    "q4": "2024/04/05",
    "q5": "2024-06-28",
    "q6": "2023/09/29",
}


def _question(qid: str, day: str) -> Question:
    return Question(
        question_id=qid,
        question_date=day,
        question=f"Question {qid}?",
        choices=["a", "b", "c", "d"],
        answer_idx=[0],
        answer_text=["a"],
    )


QUESTIONS = [_question(qid, day) for qid, day in DATES.items()]


def _ids(questions: list[Question]) -> list[str]:
    return [q.question_id for q in questions]


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2024-01..2024-03", date(2024, 1, 1), date(2024, 3, 31)),
        ("2024-04-05..2024-04-26", date(2024, 4, 5), date(2024, 4, 26)),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),  # a leap year's February
        ("2023-12..2024-01", date(2023, 12, 1), date(2024, 1, 31)),
        ("2024-01..2024-03-15", date(2024, 1, 1), date(2024, 3, 15)),
        ("2024-04-05", date(2024, 4, 5), date(2024, 4, 5)),
        (" 2024-05 .. 2024-06 ", date(2024, 5, 1), date(2024, 6, 30)),
    ],
)
def test_parse_weeks_reads_months_and_days_inclusively(text: str, start: date, end: date) -> None:
    assert parse_weeks(text) == (start, end)


def test_split_names_are_the_first_and_second_quarter() -> None:
    assert SPLITS == {"calibration": "2024-01..2024-03", "report": "2024-04..2024-06"}
    assert parse_weeks("calibration") == (date(2024, 1, 1), date(2024, 3, 31))
    assert parse_weeks("report") == (date(2024, 4, 1), date(2024, 6, 30))


@pytest.mark.parametrize(
    "text",
    ["", "2024", "2024-13", "2024-02-30", "2024/01..2024/03", "2024-01..", "..2024-03", "jan..mar", "2024-01..02..03"],
)
def test_parse_weeks_refuses_other_forms_naming_the_expected_one(text: str) -> None:
    with pytest.raises(InputError, match=r"is not a week range: expected FROM\.\.TO as months \(2024-01\.\.2024-03\)"):
        parse_weeks(text)


def test_parse_weeks_refuses_a_range_that_ends_before_it_starts() -> None:
    with pytest.raises(InputError, match="2024-03-01 comes after 2024-01-31"):
        parse_weeks("2024-03..2024-01")


def test_parse_weeks_refuses_a_non_string() -> None:
    with pytest.raises(InputError, match="weeks must be a str"):
        parse_weeks(202401)  # type: ignore[arg-type]


def test_weeks_between_keeps_the_questions_dated_in_the_range_in_order() -> None:
    assert _ids(weeks_between(QUESTIONS, *parse_weeks("calibration"))) == ["q1", "q2", "q3"]
    assert _ids(weeks_between(QUESTIONS, *parse_weeks("report"))) == ["q4", "q5"]
    assert _ids(weeks_between(QUESTIONS, *parse_weeks("2024-02"))) == ["q2"]
    # Both ends are included, to the day.
    assert _ids(weeks_between(QUESTIONS, date(2024, 1, 5), date(2024, 4, 5))) == ["q1", "q2", "q3", "q4"]
    assert _ids(weeks_between(QUESTIONS, date(2024, 1, 6), date(2024, 4, 4))) == ["q2", "q3"]
    assert weeks_between(QUESTIONS, *parse_weeks("2025-01")) == []


def test_the_week_filter_comes_before_limit_and_sample() -> None:
    report = weeks_between(QUESTIONS, *parse_weeks("report"))
    assert _ids(select(report, limit=1, sample=None)) == ["q4"]
    assert set(_ids(select(report, limit=None, sample=5))) == {"q4", "q5"}


def test_a_question_date_that_is_not_a_date_is_named() -> None:
    with pytest.raises(QAError, match=r"Question q9: question_date '2024/13/01' is not YYYY/MM/DD"):
        weeks_between([_question("q9", "2024/13/01")], date(2024, 1, 1), date(2024, 12, 31))


class _FirstChoice:
    """Stands in for the Assistant: indexes nothing, always picks choice 0, retrieves nothing."""

    asked: ClassVar[list[str]] = []

    def __init__(self, settings: Any, llm: Any = None) -> None:
        pass

    def ingest(self, paths: list[Path], **_: Any) -> None:
        pass

    def ask(self, question: str, **_: Any) -> SimpleNamespace:
        _FirstChoice.asked.append(question)
        return SimpleNamespace(choice=0)

    def retrieve(self, question: str, **_: Any) -> list[Any]:
        return []


@pytest.fixture
def benchmark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "rtqa-tiny"
    data.mkdir()
    with gzip.open(data / "articles.jsonl.gz", "wt", encoding="utf-8"):
        pass
    (data / "questions.jsonl").write_text("".join(q.model_dump_json() + "\n" for q in QUESTIONS), encoding="utf-8")
    (data / "questions_nota.jsonl").write_text("", encoding="utf-8")
    monkeypatch.setattr("qa.evals.realtimeqa.benchmark_assistant", lambda *_, **__: _FirstChoice(None))
    monkeypatch.setattr(_FirstChoice, "asked", [])
    return data


def test_the_run_records_the_data_the_weeks_and_the_dates_asked(benchmark: Path, tmp_path: Path) -> None:
    run = run_realtimeqa(benchmark, index_dir=tmp_path / "i", weeks="calibration", sample=2, free_text=False)
    assert run.data == str(benchmark) and run.split == "calibration" and run.weeks == "2024-01..2024-03"
    assert run.questions == 2 and run.questions_in_weeks == 3 and run.sample == 2 and run.limit is None
    assert {r.question_id for r in run.results} <= {"q1", "q2", "q3"}
    assert run.first_date is not None and run.last_date is not None
    assert "2024-01-05" <= run.first_date <= run.last_date <= "2024-03-29"

    every = run_realtimeqa(benchmark, index_dir=tmp_path / "i", free_text=False)
    assert every.weeks is None and every.split is None and every.questions == every.questions_in_weeks == 6
    assert (every.first_date, every.last_date) == ("2023-09-29", "2024-06-28")


def test_weeks_that_hold_no_question_fail_before_any_question_is_asked(benchmark: Path, tmp_path: Path) -> None:
    with pytest.raises(QAError, match=r"is dated 2025-01-01 to 2025-01-31 .*its questions are dated 2023-09-29 to"):
        run_realtimeqa(benchmark, index_dir=tmp_path / "i", weeks="2025-01", free_text=False)
    assert _FirstChoice.asked == []


def _qa(*args: str) -> Result:
    from qa.cli.commands import cli

    return CliRunner().invoke(cli, ["eval", *args])


def _rtqa(benchmark: Path, *args: str) -> Result:
    return _qa("--set", "realtimeqa", "--data", str(benchmark), "--benchmark-index", str(benchmark.parent / "i"), *args)


def test_qa_eval_split_report_names_the_data_folder_the_split_and_the_dates(benchmark: Path, tmp_path: Path) -> None:
    result = _rtqa(benchmark, "--weeks", "calibration", "--no-free-text", "--report", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if line.startswith("RealTimeQA "))
    assert line == (
        f"RealTimeQA data {benchmark} · split calibration (weeks 2024-01..2024-03) · 3 questions, "
        "dated 2024-01-05 to 2024-03-29 · hybrid retrieval"
    )
    assert _FirstChoice.asked == ["Question q1?", "Question q2?", "Question q3?"]
    saved = json.loads((tmp_path / "out" / "realtimeqa.json").read_text(encoding="utf-8"))
    fields = ("data", "split", "weeks", "questions", "questions_in_weeks", "first_date", "last_date")
    assert {key: saved[key] for key in fields} == {
        "data": str(benchmark),
        "split": "calibration",
        "weeks": "2024-01..2024-03",
        "questions": 3,
        "questions_in_weeks": 3,
        "first_date": "2024-01-05",
        "last_date": "2024-03-29",
    }


def test_qa_eval_weeks_combines_with_limit_and_json_carries_the_fields(benchmark: Path) -> None:
    result = _rtqa(
        benchmark, "--weeks", "2024-04..2024-06", "--limit", "1", "--no-free-text", "--retrieval", "lexical", "--json"
    )
    assert result.exit_code == 0, result.output
    run = RealTimeQARun.model_validate_json(result.stdout)
    assert [r.question_id for r in run.results] == ["q4"]
    assert (run.weeks, run.split, run.questions_in_weeks, run.limit) == ("2024-04..2024-06", None, 2, 1)
    assert run.retrieval == "lexical"
    assert (run.first_date, run.last_date) == ("2024-04-05", "2024-04-05")
    assert realtimeqa_data(run) == (
        f"data {benchmark} · weeks 2024-04..2024-06 · 1 question of 2 (first 1), dated 2024-04-05 to 2024-04-05 "
        "· lexical retrieval (BM25 in memory, no dense search)"
    )


def _error_line(result: Result) -> str:
    """Click's one error line, under its usage line."""
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    return errors[0]


@pytest.mark.parametrize("value", ["2024-13", "2024-01..", "2024-03..2024-01", "q2"])
def test_qa_eval_refuses_a_bad_weeks_value_in_one_line(benchmark: Path, value: str) -> None:
    line = _error_line(_rtqa(benchmark, "--weeks", value))
    assert line.startswith(f"Error: Invalid value for '--weeks': '{value}' is not a week range")
    assert "FROM..TO as months (2024-01..2024-03) or days (2024-04-05..2024-04-26)" in line
    assert _FirstChoice.asked == []


def test_qa_eval_refuses_an_unknown_split_naming_the_splits(benchmark: Path) -> None:
    line = _error_line(_rtqa(benchmark, "--weeks", "test"))
    assert "'test' is not a week range" in line and "or a split (calibration, report)" in line


def test_qa_eval_refuses_weeks_without_realtimeqa(benchmark: Path) -> None:
    seeds = _error_line(_qa("--weeks", "2024-01"))
    assert "--weeks chooses RealTimeQA questions; use it with --set realtimeqa" in seeds


def test_qa_eval_refuses_an_unknown_retrieval(benchmark: Path) -> None:
    line = _error_line(_rtqa(benchmark, "--retrieval", "dense"))
    assert "Invalid value for '--retrieval'" in line and "'hybrid', 'lexical'" in line


def test_report_line_names_a_sample_and_all_weeks() -> None:
    run = RealTimeQARun(
        data="/data/rtqa",
        index="/index",
        questions=50,
        questions_in_weeks=739,
        sample=50,
        first_date="2023-09-29",
        last_date="2024-06-28",
        backend=None,
        model=None,
        created="2024-07-01T00:00:00+00:00",
        index_seconds=0.0,
        seconds=1.0,
        metrics={},
        results=[],
    )
    assert realtimeqa_data(run) == (
        "data /data/rtqa · all weeks · 50 questions of 739 (fixed sample of 50), dated 2023-09-29 to 2024-06-28 "
        "· hybrid retrieval"
    )
