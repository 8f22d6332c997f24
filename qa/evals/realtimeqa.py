"""RealTimeQA (weekly news quizzes) scored the way its paper does: MC accuracy, NOTA accuracy, EM/F1.

The data is read where it lies (`../shared/benchmarks/realtimeqa-2024h1/`, see its README) and never copied;
its 4,735 articles are indexed once into their own index directory and reused while they are unchanged.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from qa.answer import Citation
from qa.assistant import Assistant
from qa.backends import choose_backend
from qa.dates import as_stated
from qa.errors import QAError
from qa.evals.matching import contains_answer, exact_match, percentile, token_f1, unsupported_numbers
from qa.facts import normalize, numbers_in
from qa.ingest import ProgressCallback
from qa.retrieval import Passage
from qa.settings import Settings

DEFAULT_DATA = Path("../shared/benchmarks/realtimeqa-2024h1")
DEFAULT_INDEX = Path("~/.cache/newsqa/realtimeqa-2024h1").expanduser()
SAMPLE_SEED = 2024
# The paper's own released GPT-3 predictions on the 2023 questions (see the data README).
REFERENCE = {
    "mc_accuracy": 57.9,
    "nota_accuracy": 49.3,
    "exact_match": 25.7,
    "f1": 35.6,
    "closed_book_mc_accuracy": 43.6,
}
_EXCEPT = re.compile(r"\bexcept\W*$", re.IGNORECASE)


class Question(BaseModel):
    question_id: str
    question_date: str
    source: str = ""
    question: str
    choices: list[str]
    answer_idx: list[int]
    answer_text: list[str]
    evidence: str = ""
    candidate_article_ids: list[str] = Field(default_factory=list)

    @property
    def date(self) -> str:
        return self.question_date.replace("/", "-")


class QuestionResult(BaseModel):
    question_id: str
    question: str
    gold: str
    mc_choice: int | None
    mc_correct: bool
    nota_choice: int | None
    nota_correct: bool
    free_text: str | None = None
    exact_match: float | None = None
    f1: float | None = None
    refused: bool | None = None
    contains_gold: bool | None = Field(None, description="The free-text answer holds the gold choice text.")
    citations: int = 0
    citations_with_gold: int = Field(0, description="Cited passages that hold the gold choice text.")
    numbers: int = 0
    unsupported_numbers: list[str] = Field(default_factory=list)
    gold_in_retrieved: bool
    gold_in_candidates: bool
    seconds: float


class RealTimeQARun(BaseModel):
    data: str
    index: str
    questions: int
    backend: str | None
    model: str | None
    mode: str | None = None  # how the free-text answers were made: "generate" or "extract"
    created: str
    index_seconds: float
    seconds: float
    metrics: dict[str, float | None]
    reference: dict[str, float] = Field(default_factory=lambda: dict(REFERENCE))
    results: list[QuestionResult]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=1) + "\n", encoding="utf-8")
        return path


def _require(data: Path, name: str) -> Path:
    path = data / name
    if not path.is_file():
        raise QAError(f"No {name} in {data}; point --data at the realtimeqa-2024h1 folder (see its README)")
    return path


def load_questions(path: Path) -> list[Question]:
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                questions.append(Question.model_validate_json(line))
            except ValidationError as exc:
                raise QAError(f"{path}:{number}: not a RealTimeQA question ({exc.errors()[0]['msg']})") from exc
    return questions


def nota_of(question_id: str) -> str:
    """The id of the question a None-of-the-above variant was made from: "20240105_0_nota" -> "20240105_0"."""
    return question_id.removesuffix("_nota")


def load_article_texts(path: Path) -> dict[str, str]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return {record["id"]: record.get("text") or "" for record in map(json.loads, lines)}


def select(questions: list[Question], *, limit: int | None, sample: int | None) -> list[Question]:
    """The first `limit` questions, or a fixed random `sample` of them (same seed, same sample)."""
    if sample is not None:
        questions = sorted(
            random.Random(SAMPLE_SEED).sample(questions, min(sample, len(questions))), key=lambda q: q.question_id
        )
    return questions[:limit] if limit is not None else questions


def _holds(passages: Sequence[Passage | Citation], gold: str) -> bool:
    needle = f" {normalize(gold)} "
    return any(needle in f" {normalize(p.title + ' ' + p.text)} " for p in passages)


def run_realtimeqa(
    data: str | Path = DEFAULT_DATA,
    *,
    index_dir: str | Path = DEFAULT_INDEX,
    settings: Settings | None = None,
    backend: str | None = None,
    limit: int | None = None,
    sample: int | None = None,
    free_text: bool = True,
    on_progress: ProgressCallback | None = None,
    on_question: Callable[[QuestionResult], None] | None = None,
) -> RealTimeQARun:
    """Index the benchmark's articles (incrementally), then answer each question three ways and score them."""
    data = Path(data)
    articles = _require(data, "articles.jsonl.gz")
    questions = select(load_questions(_require(data, "questions.jsonl")), limit=limit, sample=sample)
    nota = {nota_of(q.question_id): q for q in load_questions(_require(data, "questions_nota.jsonl"))}
    texts = load_article_texts(articles)

    settings = (settings or Settings()).model_copy(update={"index_dir": Path(index_dir).expanduser()})
    if backend:
        settings = settings.model_copy(update={"backend": backend})
    llm = choose_backend(settings).llm if free_text else None
    assistant = Assistant(settings, llm=llm)
    mode = assistant.resolve_mode()[0] if free_text else None
    started = time.perf_counter()
    assistant.ingest([articles], prune=False, on_progress=on_progress)
    indexed = time.perf_counter()

    results = []
    for q in questions:
        began = time.perf_counter()
        gold = q.answer_text[0]
        # Articles published after the quiz could not have been read when it was asked.
        mc = assistant.ask(q.question, choices=q.choices, date_to=q.date)
        variant = nota.get(q.question_id)
        nota_answer = assistant.ask(variant.question, choices=variant.choices, date_to=q.date) if variant else None
        passages = assistant.retrieve(q.question, date_to=q.date)
        result = QuestionResult(
            question_id=q.question_id,
            question=q.question,
            gold=gold,
            mc_choice=mc.choice,
            mc_correct=mc.choice in q.answer_idx,
            nota_choice=nota_answer.choice if nota_answer else None,
            nota_correct=bool(variant and nota_answer and nota_answer.choice in variant.answer_idx),
            gold_in_retrieved=_holds(passages, gold),
            gold_in_candidates=any(
                f" {normalize(gold)} " in f" {normalize(texts.get(i, ''))} " for i in q.candidate_article_ids
            ),
            seconds=0.0,
        )
        if free_text and not _EXCEPT.search(q.question):
            answer = assistant.ask(q.question, date_to=q.date)
            prediction = "" if answer.refused else answer.answer
            result.free_text = answer.answer
            result.exact_match = exact_match(prediction, gold)
            result.f1 = token_f1(prediction, gold)
            result.refused = answer.refused
            result.contains_gold = contains_answer(prediction, [gold]) is not None
            result.citations = len(answer.citations)
            result.citations_with_gold = sum(_holds([c], gold) for c in answer.citations)
            result.numbers = len(numbers_in(prediction))
            result.unsupported_numbers = unsupported_numbers(
                prediction, [f"{c.title}. {as_stated(c.text, c.date)}" for c in answer.citations]
            )
        result.seconds = round(time.perf_counter() - began, 2)
        results.append(result)
        if on_question:
            on_question(result)

    return RealTimeQARun(
        data=str(data),
        index=str(settings.index_dir),
        questions=len(results),
        backend=llm.backend if llm else None,
        model=llm.model if llm else None,
        mode=mode,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        index_seconds=round(indexed - started, 1),
        seconds=round(time.perf_counter() - indexed, 1),
        metrics=realtimeqa_metrics(results),
        results=results,
    )


def realtimeqa_metrics(results: Sequence[QuestionResult]) -> dict[str, float | None]:
    """Percentages, as the paper reports them."""

    def pct(values: Sequence[float | bool]) -> float | None:
        return round(100 * sum(values) / len(values), 1) if values else None

    scored = [r for r in results if r.f1 is not None]
    mc_answered = [r for r in results if r.mc_choice is not None]
    answered = [r for r in scored if not r.refused]
    citations = sum(r.citations for r in scored)
    numbers = sum(r.numbers for r in scored)
    return {
        "mc_accuracy": pct([r.mc_correct for r in results]),
        "mc_answered": pct([r.mc_choice is not None for r in results]),
        "mc_accuracy_when_answered": pct([r.mc_correct for r in mc_answered]),
        "nota_accuracy": pct([r.nota_correct for r in results]),
        "exact_match": pct([r.exact_match or 0.0 for r in scored]),
        "f1": pct([r.f1 or 0.0 for r in scored]),
        "free_text_holds_gold": pct([bool(r.contains_gold) for r in scored]),
        "free_text_refused": pct([bool(r.refused) for r in scored]),
        "free_text_holds_gold_when_answered": pct([bool(r.contains_gold) for r in answered]),
        "citation_precision": round(100 * sum(r.citations_with_gold for r in scored) / citations, 1)
        if citations
        else None,
        "number_faithfulness": round(100 * (numbers - sum(len(r.unsupported_numbers) for r in scored)) / numbers, 1)
        if numbers
        else None,
        "gold_in_retrieved": pct([r.gold_in_retrieved for r in results]),
        "gold_in_candidates": pct([r.gold_in_candidates for r in results]),
        "seconds_per_question_p50": percentile([r.seconds for r in results], 50),
    }
