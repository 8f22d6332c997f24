"""RealTimeQA (weekly news quizzes) scored the way its paper does: MC accuracy, NOTA accuracy, EM/F1.

The data is read where it lies (`../shared/benchmarks/realtimeqa-2024h1/`, see its README) and never copied;
its 4,735 articles are indexed once into their own index directory and reused while they are unchanged, or,
with `retrieval="lexical"`, chunked in memory and searched by BM25 alone (qa/evals/lexical.py), nothing written.
`weeks` keeps the questions dated in a range (`parse_weeks`); `limit` / `sample` then choose among those.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from qa.assistant import Assistant
from qa.chunks import Passage
from qa.errors import InputError, QAError
from qa.evals.matching import (
    contains_answer,
    exact_match,
    normalize,
    numbers_in,
    percentile,
    token_f1,
    unsupported_numbers,
)
from qa.generation.backends import LLM, choose_backend
from qa.grounding.answer import Citation
from qa.ingest.report import ProgressCallback
from qa.settings import Settings
from qa.text.dates import as_stated

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
RETRIEVALS = ("hybrid", "lexical")
# Named week ranges: thresholds are calibrated on the first quarter and reported on the second.
SPLITS = {"calibration": "2024-01..2024-03", "report": "2024-04..2024-06"}
WEEKS_FORM = (
    "expected FROM..TO as months (2024-01..2024-03) or days (2024-04-05..2024-04-26), "
    f"one month (2024-02), or a split ({', '.join(SPLITS)})"
)
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


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

    @property
    def day(self) -> dt.date:
        """The question date as a date (the files write both 2024/01/05 and 2024-01-05)."""
        try:
            return dt.date.fromisoformat(self.date)
        except ValueError:
            raise QAError(
                f"Question {self.question_id}: question_date {self.question_date!r} is not YYYY/MM/DD"
            ) from None


class QuestionResult(BaseModel):
    question_id: str
    question: str
    gold: str
    mc_choice: int | None
    mc_correct: bool
    nota_choice: int | None
    nota_correct: bool
    free_text: str | None = None
    short_answer: str | None = Field(None, description="The reader's short answer; EM/F1 score it when there is one.")
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
    retrieval: str = "hybrid"  # "lexical": BM25 over the chunks in memory, no dense search (qa/evals/lexical.py)
    questions: int
    backend: str | None
    model: str | None
    mode: str | None = None  # how the free-text answers were made: "generate" or "extract"
    created: str
    # Which questions were asked: the week range (a split's range when `split` is set; None = every week), how
    # many questions it holds, then --limit / --sample, and the first and last question date asked.
    weeks: str | None = None
    split: str | None = None
    questions_in_weeks: int | None = None
    limit: int | None = None
    sample: int | None = None
    first_date: str | None = None
    last_date: str | None = None
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


def _bound(text: str, *, last: bool) -> dt.date:
    """A month (its first or, with `last`, its last day) or an exact day; ValueError otherwise."""
    if _DAY.fullmatch(text):
        return dt.date.fromisoformat(text)
    month = _MONTH.fullmatch(text)
    if not month:
        raise ValueError(text)
    first = dt.date(int(month[1]), int(month[2]), 1)
    return (first + dt.timedelta(days=31)).replace(day=1) - dt.timedelta(days=1) if last else first


def parse_weeks(text: str) -> tuple[dt.date, dt.date]:
    """The first and last day (inclusive) of a week range: "2024-01..2024-03" is 2024-01-01 to 2024-03-31,
    "2024-04-05..2024-04-26" those exact days, "2024-02" that month, "calibration" / "report" their SPLITS range.
    Raises InputError naming the expected form."""
    if not isinstance(text, str):
        raise InputError(f"weeks must be a str like 2024-01..2024-03, got {type(text).__name__} {text!r}")
    given = SPLITS.get(text.strip(), text.strip())
    parts = [part.strip() for part in given.split("..")] if ".." in given else [given, given]
    try:
        if len(parts) != 2:
            raise ValueError(given)
        start, end = _bound(parts[0], last=False), _bound(parts[1], last=True)
    except ValueError:
        raise InputError(f"{text!r} is not a week range: {WEEKS_FORM}") from None
    if start > end:
        raise InputError(f"{text!r} is not a week range: {start} comes after {end}; {WEEKS_FORM}")
    return start, end


def weeks_between(questions: Sequence[Question], start: dt.date, end: dt.date) -> list[Question]:
    """The questions dated from `start` to `end`, both included, in their order."""
    return [q for q in questions if start <= q.day <= end]


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


def benchmark_assistant(
    articles: Path,
    settings: Settings,
    *,
    retrieval: str = "hybrid",
    llm: LLM | None = None,
    on_progress: ProgressCallback | None = None,
) -> Assistant:
    """An assistant over the benchmark's archive: indexed into `settings.index_dir` (incrementally), or with
    `retrieval="lexical"` chunked into memory for BM25 (qa/evals/lexical.py), nothing written."""
    if retrieval == "lexical":
        from qa.evals.lexical import LexicalRetriever

        # A store in a scratch folder of its own, only for the Assistant's signature: nothing opens or writes it.
        scratch = settings.model_copy(update={"index_dir": Path(tempfile.mkdtemp(prefix="qa-rtqa-lexical-"))})
        base = Assistant(scratch, llm=llm)
        lexical = LexicalRetriever.from_archive(articles, scratch, base.embedder)
        return Assistant(scratch, llm=llm, store=base.store, embedder=base.embedder, retriever=lexical)
    # The benchmark's own archive is larger than the size a user's upload may decompress to.
    archive = settings.model_copy(update={"max_file_mb": max(settings.max_file_mb, 1000.0)})
    assistant = Assistant(settings, llm=llm)
    Assistant(archive, llm=None, store=assistant.store, embedder=assistant.embedder).ingest(
        [articles], prune=False, on_progress=on_progress
    )
    return assistant


def run_realtimeqa(
    data: str | Path = DEFAULT_DATA,
    *,
    index_dir: str | Path = DEFAULT_INDEX,
    settings: Settings | None = None,
    backend: str | None = None,
    limit: int | None = None,
    sample: int | None = None,
    weeks: str | None = None,
    free_text: bool = True,
    retrieval: str = "hybrid",
    on_progress: ProgressCallback | None = None,
    on_question: Callable[[QuestionResult], None] | None = None,
) -> RealTimeQARun:
    """Index the benchmark's articles (incrementally), then answer each question three ways and score them.

    `weeks` (a range for `parse_weeks`, or a split name) keeps the questions dated in it; `limit` / `sample`
    then choose among those. `retrieval="lexical"` skips the index: BM25 over the chunks in memory
    (qa/evals/lexical.py), for runs that cannot wait for the archive to be embedded."""
    if retrieval not in RETRIEVALS:
        raise QAError(f"retrieval must be 'hybrid' or 'lexical', got {retrieval!r}")
    data = Path(data)
    articles = _require(data, "articles.jsonl.gz")
    path = _require(data, "questions.jsonl")
    pool = load_questions(path)
    split = None
    if weeks is not None:
        start, end = parse_weeks(weeks)
        split = weeks.strip() if weeks.strip() in SPLITS else None
        weeks = SPLITS.get(weeks.strip(), weeks.strip())
        dated = weeks_between(pool, start, end)
        if not dated:
            days = sorted(q.day for q in pool)
            held = f"its questions are dated {days[0]} to {days[-1]}" if days else "it holds no questions"
            raise QAError(f"No question of {path} is dated {start} to {end} (weeks {weeks}); {held}")
        pool = dated
    questions = select(pool, limit=limit, sample=sample)
    days = sorted(q.day for q in questions)
    nota = {nota_of(q.question_id): q for q in load_questions(_require(data, "questions_nota.jsonl"))}
    texts = load_article_texts(articles)

    settings = (settings or Settings()).model_copy(update={"index_dir": Path(index_dir).expanduser()})
    if backend:
        settings = settings.model_copy(update={"backend": backend})
    llm = choose_backend(settings).llm if free_text else None
    started = time.perf_counter()
    assistant = benchmark_assistant(articles, settings, retrieval=retrieval, llm=llm, on_progress=on_progress)
    indexed = time.perf_counter()
    mode = assistant.resolve_mode()[0] if free_text else None

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
            spoken = "" if answer.refused else answer.answer
            short = answer.short_answer.text if answer.short_answer else None
            # The gold is a short answer (a name, a number): the reader's short answer is scored when there is
            # one, else the whole answer; a refusal scores as empty.
            prediction = "" if answer.refused else short or spoken
            result.free_text = answer.answer
            result.short_answer = short
            result.exact_match = exact_match(prediction, gold)
            result.f1 = token_f1(prediction, gold)
            result.refused = answer.refused
            result.contains_gold = contains_answer(spoken, [gold]) is not None
            result.citations = len(answer.citations)
            result.citations_with_gold = sum(_holds([c], gold) for c in answer.citations)
            result.numbers = len(numbers_in(spoken))
            result.unsupported_numbers = unsupported_numbers(
                spoken, [f"{c.title}. {as_stated(c.text, c.date)}" for c in answer.citations]
            )
        result.seconds = round(time.perf_counter() - began, 2)
        results.append(result)
        if on_question:
            on_question(result)

    return RealTimeQARun(
        data=str(data),
        index=str(settings.index_dir) if retrieval == "hybrid" else "(none: BM25 in memory)",
        retrieval=retrieval,
        questions=len(results),
        backend=llm.backend if llm else None,
        model=llm.model if llm else None,
        mode=mode,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        weeks=weeks,
        split=split,
        questions_in_weeks=len(pool),
        limit=limit,
        sample=sample,
        first_date=days[0].isoformat() if days else None,
        last_date=days[-1].isoformat() if days else None,
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
