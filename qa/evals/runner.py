"""Run an eval set: index its articles in a fresh place, ask every case, judge the answers."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from qa.assistant import Assistant
from qa.evals.cases import EvalCase, load_cases
from qa.evals.results import CaseResult, EvalRun
from qa.evals.scoring import aggregate, score_case
from qa.generation.backends import choose_backend
from qa.settings import Settings

CaseCallback = Callable[[CaseResult], None]


def evaluate(
    cases: str | Path | Sequence[EvalCase] = "evals/seeds.jsonl",
    *,
    articles: str | Path | Sequence[str | Path] = "seeds",
    settings: Settings | None = None,
    assistant: Assistant | None = None,
    backend: str | None = None,
    top_k: int | None = None,
    limit: int | None = None,
    mode: str | None = None,
    on_case: CaseCallback | None = None,
) -> EvalRun:
    """Score answers to `cases` over `articles`, repeatably.

    Without an `assistant`, the articles are indexed into a temporary directory first, so the user's own index
    is neither read nor touched and two runs see exactly the same passages.
    """
    set_name = str(cases) if isinstance(cases, str | Path) else "(cases)"
    case_list = load_cases(cases) if isinstance(cases, str | Path) else list(cases)
    if limit is not None:
        case_list = case_list[:limit]
    settings = settings or Settings()
    if backend:
        settings = settings.model_copy(update={"backend": backend})
    if mode:
        settings = settings.model_copy(update={"mode": mode})
    if assistant is not None:
        return _run(assistant, case_list, set_name, backend, top_k, on_case)
    paths = [articles] if isinstance(articles, str | Path) else list(articles)
    with tempfile.TemporaryDirectory(prefix="qa-eval-", ignore_cleanup_errors=True) as tmp:
        # The model is chosen once, so every case is answered by the same one and Ollama is probed once.
        llm = choose_backend(settings).llm if settings.mode != "extract" else None
        fresh = Assistant(settings.model_copy(update={"index_dir": Path(tmp), "chroma_url": None}), llm=llm)
        fresh.ingest(paths)
        return _run(fresh, case_list, set_name, None, top_k, on_case)


def _run(
    assistant: Assistant,
    cases: Sequence[EvalCase],
    set_name: str,
    backend: str | None,
    top_k: int | None,
    on_case: CaseCallback | None,
) -> EvalRun:
    started = time.perf_counter()
    mode, choice = assistant.resolve_mode(None, backend)
    results = []
    for case in cases:
        answer = assistant.ask(case.question, top_k=top_k, backend=backend)
        result = score_case(case, answer)
        results.append(result)
        if on_case:
            on_case(result)
    k = top_k or assistant.settings.top_k
    settings = assistant.settings
    return EvalRun(
        set=set_name,
        backend=choice.llm.backend if choice else "none",
        model=choice.llm.model if choice else "none",
        settings={
            "top_k": k,
            "candidates": settings.candidates,
            "per_article": settings.per_article,
            "min_relevance": settings.min_relevance,
            "chunk_tokens": settings.chunk_tokens,
            "max_answer_tokens": settings.max_answer_tokens,
            "mode": mode,
            "ranking": settings.ranking,
            "min_evidence": settings.min_evidence,
            "min_answer_score": settings.min_answer_score,
            "min_support": settings.min_support,
            "embedding_model": settings.embedding_model,
        },
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        seconds=round(time.perf_counter() - started, 1),
        metrics=aggregate(results, k=k),
        cases=results,
    )
