"""The RealTimeQA adapter: its format, its index, and the paper's metrics."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from qa.evals.realtimeqa import (
    DEFAULT_DATA,
    load_questions,
    nota_of,
    parse_weeks,
    realtimeqa_metrics,
    run_realtimeqa,
    select,
    weeks_between,
)
from qa.grounding.answer import Answer, ShortAnswer
from tests.conftest import ROOT, make_settings
from tests.fake_ollama import FakeOllama

SHARED = (ROOT / DEFAULT_DATA).resolve()

ARTICLES = [
    {
        "id": "a1",
        "url": "https://example.org/taiwan",
        "title": "Taiwan election",
        "publish_date": "2024/01/03",
        "authors": [],
        "text": "Vice president Lai Ching-te won Taiwan's presidential election on Saturday, beating Hou Yu-ih.",
    },
    {
        "id": "a2",
        "url": "https://example.org/space",
        "title": "Moon landing",
        "publish_date": "2024/01/20",
        "authors": [],
        "text": "Japan's SLIM probe landed on the Moon, making Japan the fifth country to do so.",
    },
    {
        "id": "a3",
        "url": "https://example.org/later",
        "title": "Published after the quiz",
        "publish_date": "2024/03/01",
        "authors": [],
        "text": "Ko Wen-je founded a new party in Taiwan after the presidential election.",
    },
]


def _question(qid: str, date: str, question: str, choices: list[str], gold: int, cands: list[str]) -> dict:
    return {
        "question_id": qid,
        "question_date": date,
        "source": "CNN",
        "question": question,
        "choices": choices,
        "answer_idx": [gold],
        "answer_text": [choices[gold]],
        "evidence": "",
        "candidate_article_ids": cands,
    }


@pytest.fixture
def tiny_benchmark(tmp_path: Path) -> Path:
    data = tmp_path / "rtqa"
    data.mkdir()
    with gzip.open(data / "articles.jsonl.gz", "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(a) + "\n" for a in ARTICLES)
    questions = [
        _question(
            "q1",
            "2024/01/05",
            "Who won Taiwan's presidential election?",
            ["Ko Wen-je", "Lai Ching-te", "Hou Yu-ih", "Tsai Ing-wen"],
            1,
            ["a1"],
        ),
        _question(
            "q2",
            "2024/01/26",
            "Which country landed a probe on the Moon this week?",
            ["India", "China", "Japan", "Israel"],
            2,
            ["a2"],
        ),
    ]
    # As in the real files, a variant's id is its question's id with "_nota" appended.
    nota = [{**q, "question_id": f"{q['question_id']}_nota"} for q in questions[:2]]
    nota[1] = {
        **nota[1],
        "choices": ["India", "China", "None of the above", "Israel"],
        "answer_idx": [2],
        "answer_text": ["None of the above"],
    }
    for name, rows in (("questions.jsonl", questions), ("questions_nota.jsonl", nota)):
        (data / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return data


@pytest.mark.integration
def test_adapter_indexes_answers_and_scores_the_benchmark(
    tiny_benchmark: Path, tmp_path: Path, ollama: FakeOllama
) -> None:
    settings = make_settings(tmp_path / "unused", ollama_host=ollama.url)
    run = run_realtimeqa(tiny_benchmark, index_dir=tmp_path / "bench-index", settings=settings, backend="ollama")
    by_id = {r.question_id: r for r in run.results}
    assert by_id["q1"].mc_choice == 1 and by_id["q1"].mc_correct
    assert by_id["q2"].mc_choice == 2 and by_id["q2"].nota_choice == 2 and by_id["q2"].nota_correct
    assert by_id["q1"].gold_in_candidates and by_id["q1"].gold_in_retrieved
    assert run.metrics["mc_accuracy"] == 100.0 and run.metrics["nota_accuracy"] == 100.0
    assert run.metrics["f1"] is not None and run.backend == "ollama"
    assert run.reference["mc_accuracy"] == 57.9

    again = run_realtimeqa(tiny_benchmark, index_dir=tmp_path / "bench-index", settings=settings, free_text=False)
    assert [r.mc_choice for r in again.results] == [r.mc_choice for r in run.results]
    assert again.metrics["exact_match"] is None and again.backend is None


@pytest.mark.integration
def test_lexical_retrieval_answers_from_the_archive_without_writing_an_index(
    tiny_benchmark: Path, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "unused")
    index = tmp_path / "never-written"
    run = run_realtimeqa(tiny_benchmark, index_dir=index, settings=settings, free_text=False, retrieval="lexical")
    by_id = {r.question_id: r for r in run.results}
    assert by_id["q1"].mc_choice == 1 and by_id["q2"].mc_choice == 2 and by_id["q2"].nota_correct
    assert by_id["q1"].gold_in_retrieved and by_id["q2"].gold_in_retrieved
    assert run.retrieval == "lexical" and run.index.startswith("(none") and not index.exists()


class _Says:
    """Stands in for the benchmark's assistant: every free-text answer is `answer` with `short` as its short answer."""

    def __init__(self, answer: str, short: str | None, refused: bool = False) -> None:
        self.answer, self.short, self.refused = answer, short, refused

    def resolve_mode(self) -> tuple[str, None]:
        return "extract", None

    def retrieve(self, question: str, **_: object) -> list[object]:
        return []

    def ask(self, question: str, *, choices: list[str] | None = None, **_: object) -> Answer:
        if choices:
            return Answer(question=question, answer="", refused=True, backend="choices", model="m", choice=None)
        short = ShortAnswer(text=self.short, n=1, start=0, end=len(self.short)) if self.short else None
        return Answer(
            question=question, answer=self.answer, refused=self.refused, backend="b", model="m", short_answer=short
        )


@pytest.mark.unit
@pytest.mark.parametrize(
    ("says", "em", "f1", "short"),
    [
        (_Says("Lai Ching-te [1]. Lai Ching-te won the election [1].", "Lai Ching-te"), 1.0, 1.0, "Lai Ching-te"),
        (_Says("Lai Ching-te won Taiwan's presidential election [1].", None), 0.0, 0.5, None),
        (_Says("Lai Ching-te [1]. Lai Ching-te won [1].", "Lai Ching-te", refused=True), 0.0, 0.0, "Lai Ching-te"),
    ],
)
def test_free_text_is_scored_from_the_short_answer_when_there_is_one(
    tiny_benchmark: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    says: _Says,
    em: float,
    f1: float,
    short: str | None,
) -> None:
    monkeypatch.setattr("qa.evals.realtimeqa.benchmark_assistant", lambda *_, **__: says)
    monkeypatch.setattr("qa.evals.realtimeqa.choose_backend", lambda _: SimpleNamespace(llm=None))
    settings = make_settings(tmp_path / "unused")
    run = run_realtimeqa(tiny_benchmark, index_dir=tmp_path / "i", settings=settings, limit=1)
    result = run.results[0]
    assert result.gold == "Lai Ching-te" and result.free_text == says.answer and result.short_answer == short
    assert result.exact_match == em and result.f1 == pytest.approx(f1, abs=0.01)
    assert result.refused is says.refused and result.contains_gold is not says.refused


@pytest.mark.unit
def test_sample_is_fixed_and_limit_takes_the_first(tiny_benchmark: Path) -> None:
    questions = load_questions(tiny_benchmark / "questions.jsonl")
    assert [q.question_id for q in select(questions, limit=1, sample=None)] == ["q1"]
    assert select(questions, limit=None, sample=1) == select(questions, limit=None, sample=1)


@pytest.mark.unit
def test_metrics_are_percentages_and_skip_except_questions_for_free_text() -> None:
    from qa.evals.realtimeqa import QuestionResult

    base = {
        "question": "q",
        "gold": "g",
        "nota_choice": None,
        "nota_correct": False,
        "gold_in_retrieved": True,
        "gold_in_candidates": True,
        "seconds": 1.0,
    }
    results = [
        QuestionResult(question_id="1", mc_choice=0, mc_correct=True, exact_match=1.0, f1=1.0, **base),
        QuestionResult(question_id="2", mc_choice=None, mc_correct=False, exact_match=0.0, f1=0.5, **base),
        QuestionResult(question_id="3", mc_choice=1, mc_correct=False, **base),  # an "except" question
    ]
    metrics = realtimeqa_metrics(results)
    assert metrics["mc_accuracy"] == pytest.approx(33.3) and metrics["mc_answered"] == pytest.approx(66.7)
    assert metrics["exact_match"] == 50.0 and metrics["f1"] == 75.0


@pytest.mark.unit
@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared RealTimeQA data is not on this machine")
def test_the_shared_benchmark_files_load() -> None:
    questions = load_questions(SHARED / "questions.jsonl")
    nota = load_questions(SHARED / "questions_nota.jsonl")
    assert len(questions) == len(nota) == 739
    assert {nota_of(q.question_id) for q in nota} == {q.question_id for q in questions}
    assert all(len(q.choices) == 4 and q.answer_idx for q in questions)
    # The two splits hold every 2024 question; the one 2023 quiz is in neither.
    calibration = weeks_between(questions, *parse_weeks("calibration"))
    report = weeks_between(questions, *parse_weeks("report"))
    assert len(calibration) + len(report) == len(questions) - sum(q.day.year == 2023 for q in questions)
    assert {q.question_id for q in select(report, limit=None, sample=5)} <= {q.question_id for q in report}


@pytest.mark.integration
@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared RealTimeQA data is not on this machine")
def test_lexical_chunks_shared_articles_as_ingest_does(tmp_path: Path) -> None:
    from qa.evals.lexical import LexicalRetriever, chunk_articles
    from qa.index.embeddings import SentenceTransformerEmbedder
    from qa.index.store import Store
    from qa.ingest import documents
    from qa.ingest.run import Ingestor
    from qa.ingest.stream import ArticleStream

    with gzip.open(SHARED / "articles.jsonl.gz", "rt", encoding="utf-8") as lines:
        few = [next(lines) for _ in range(5)]
    archive = tmp_path / "few.jsonl.gz"
    with gzip.open(archive, "wt", encoding="utf-8") as out:
        out.writelines(few)
    settings = make_settings(tmp_path / "scratch")
    embedder = SentenceTransformerEmbedder(settings.embedding_model, settings.embed_batch_size)
    chunks, embedded = chunk_articles(archive, settings, embedder)
    assert {c.doc_id for c in chunks} and len(embedded) == len(chunks)
    ingestor = Ingestor(settings, Store(settings, embedder.name), embedder)
    first = next(a for a in ArticleStream(archive, 10**8) if isinstance(a, documents.Article))
    pieces, texts = ingestor.chunk_article(first)
    mine = [c for c in chunks if c.doc_id == first.doc_id]
    assert [c.text for c in mine] == [p.text for p in pieces]
    assert [embedded[c.chunk_id] for c in mine] == texts

    retriever = LexicalRetriever(settings, chunks, embedded, embedder)
    passages = retriever.retrieve(first.title, top_k=3)
    assert (
        passages and passages[0].doc_id == first.doc_id and [p.n for p in passages] == list(range(1, len(passages) + 1))
    )
    assert all(-1.0 <= p.score <= 1.0 for p in passages) and passages[0].score > 0.3
    assert sum(p.doc_id == first.doc_id for p in passages) <= settings.per_article
    assert not (tmp_path / "scratch").exists()


@pytest.mark.integration
def test_qa_eval_on_the_benchmark_answers_free_text_in_the_mode_asked(
    tiny_benchmark: Path, tmp_path: Path, ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from qa.cli.commands import cli

    monkeypatch.setenv("QA_OLLAMA_HOST", ollama.url)
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    args = ["eval", "--set", "realtimeqa", "--data", str(tiny_benchmark), "--benchmark-index", str(tmp_path / "i")]
    result = CliRunner().invoke(cli, [*args, "--backend", "ollama", "--mode", "extract", "--json", "--limit", "1"])
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    assert run["mode"] == "extract" and run["questions"] == 1
