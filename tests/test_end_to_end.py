"""End to end on real parts: seeds → Chroma → the bundled Gemma 3 270M through llama.cpp → cited answers."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa import CANNOT_ANSWER, Assistant
from tests.conftest import ROOT, SEED_EXCHANGE, SEED_OVERVIEW, SEEDS, UNREACHABLE_OLLAMA

pytestmark = pytest.mark.slow


def test_embedded_model_answers_with_citations_into_the_retrieved_passages(seeded: Assistant) -> None:
    answer = seeded.ask("How many drones did Russia launch?", mode="generate")
    assert answer.backend == "embedded" and not answer.refused
    assert answer.citations, answer.answer
    for citation in answer.citations:
        assert 1 <= citation.n <= len(answer.passages)
        assert citation.quote and citation.quote in citation.text
    assert answer.timings_ms.total >= answer.timings_ms.generate > 0
    assert answer.timings_ms.retrieve < answer.timings_ms.first_token <= answer.timings_ms.total


def test_embedded_model_answer_cites_the_article_that_holds_the_fact(seeded: Assistant) -> None:
    answer = seeded.ask("How many drones did Russia launch?", mode="generate")
    assert "176" in answer.answer
    assert any(Path(c.source).name == SEED_EXCHANGE and "176 drones" in c.text for c in answer.citations)


def test_a_question_the_articles_do_not_cover_is_refused(seeded: Assistant) -> None:
    answer = seeded.ask("What is the capital of France?")
    assert answer.refused and answer.answer == CANNOT_ANSWER and answer.citations == []


def run_qa(*args: str, index: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QA_INDEX_DIR": str(index), "OLLAMA_HOST": UNREACHABLE_OLLAMA}
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600
    )


def test_cli_ingest_then_ask_json_follows_the_contract(tmp_path: Path) -> None:
    index = tmp_path / "index"
    first = run_qa("ingest", "--json", str(SEEDS), index=index)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert set(report) == {
        "added",
        "updated",
        "unchanged",
        "removed",
        "replaced",
        "chunks",
        "failed",
        "extracted",
        "fetched",
    }
    assert report["added"] == 2 and report["failed"] == []
    again = json.loads(run_qa("ingest", "--json", str(SEEDS), index=index).stdout)
    assert (again["unchanged"], again["added"], again["chunks"]) == (2, 0, 0)

    asked = run_qa("ask", "--json", "--mode", "generate", "How many F-16s is the Netherlands sending?", index=index)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert {"question", "answer", "refused", "citations", "backend", "model", "timings_ms"} <= set(answer)
    assert answer["backend"] == "embedded" and set(answer["timings_ms"]) == {
        "retrieve",
        "generate",
        "total",
        "first_token",
    }
    for citation in answer["citations"]:
        assert {"n", "doc_id", "title", "date", "source", "text", "quote", "score"} <= set(citation)
        assert Path(citation["source"]).name in {SEED_OVERVIEW, SEED_EXCHANGE}

    status = json.loads(run_qa("status", "--json", index=index).stdout)
    assert (status["articles"], status["backend"]) == (2, "embedded")
    assert "not reachable" in status["note"]


def test_cli_errors_are_one_line_without_a_traceback(tmp_path: Path) -> None:
    empty = run_qa("ask", "anything", index=tmp_path / "empty")
    assert empty.returncode == 1
    assert "qa ingest" in empty.stderr and "Traceback" not in empty.stderr
    assert len(empty.stderr.strip().splitlines()) == 1
    bad = subprocess.run(
        [sys.executable, "-m", "qa.cli", "status"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "QA_TOP_K": "zero"},
        timeout=300,
    )
    assert bad.returncode == 2 and "top_k" in bad.stderr and "Traceback" not in bad.stderr
