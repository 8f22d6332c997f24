"""The seed eval set is well formed, and bad case files fail with the file, line and field."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from qa import QAError, load_cases
from tests.conftest import ROOT

pytestmark = pytest.mark.unit
SEED_SET = ROOT / "evals" / "seeds.jsonl"


def test_seed_set_covers_what_the_harness_measures() -> None:
    cases = load_cases(SEED_SET)
    types = Counter(c.type for c in cases)
    assert len(cases) >= 60
    assert sum(not c.answerable for c in cases) >= 12
    assert {"number", "fact", "multi_doc", "date", "unanswerable", "false_premise", "injection"} <= set(types)


def test_seed_evidence_quotes_are_verbatim_in_the_articles() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "evals" / "check_seeds.py")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _write(tmp_path: Path, *rows: object) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


GOOD = {
    "id": "a",
    "question": "How many?",
    "type": "number",
    "answers": ["3"],
    "evidence": ["three of them"],
    "doc": "x.txt",
    "answerable": True,
}


def test_a_bad_line_is_named_with_its_number(tmp_path: Path) -> None:
    with pytest.raises(QAError, match=r"set.jsonl:2: not valid JSON"):
        load_cases(_write(tmp_path, GOOD, "{oops"))


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    broken = {k: v for k, v in GOOD.items() if k != "answerable"}
    with pytest.raises(QAError, match=r"set.jsonl:1: answerable: Field required"):
        load_cases(_write(tmp_path, broken))


def test_an_answerable_case_without_answers_is_refused(tmp_path: Path) -> None:
    with pytest.raises(QAError, match="needs at least one answer"):
        load_cases(_write(tmp_path, {**GOOD, "answers": []}))


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    with pytest.raises(QAError, match="duplicate case id 'a'"):
        load_cases(_write(tmp_path, GOOD, GOOD))


def test_a_missing_set_says_how_to_point_at_one(tmp_path: Path) -> None:
    with pytest.raises(QAError, match="pass --set"):
        load_cases(tmp_path / "nope.jsonl")
