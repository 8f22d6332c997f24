"""The evals tab's handler: run an eval set through `qa.evaluate` and show its report."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from qa import Assistant, EvalRun, evaluate, load_cases, write_report

ProgressFn = Callable[[float, str], None]
METRIC_HEADERS = ["metric", "value"]
CASE_HEADERS = ["id", "type", "verdict", "question", "answer", "why"]
_SKIP = {"by_type", "latency_ms", "k", "cases", "answerable"}


def metric_rows(run: EvalRun) -> list[list[str]]:
    m = run.metrics
    rows = [["cases (answerable)", f"{m.cases} ({m.answerable})"]]
    for key, value in m.model_dump().items():
        if key in _SKIP:
            continue
        label = key.replace("_", " ").replace("at k", f"@{m.k}")
        rows.append([label, "n/a" if value is None else f"{value:.3f}"])
    for stage, latency in m.latency_ms.items():
        p50 = "n/a" if latency.p50 is None else f"{latency.p50:.0f}"
        p95 = "n/a" if latency.p95 is None else f"{latency.p95:.0f}"
        rows.append([f"latency {stage} p50 / p95 (ms)", f"{p50} / {p95}"])
    return rows


def case_rows(run: EvalRun) -> list[list[str]]:
    return [[c.id, c.type, c.verdict, c.question, c.answer, c.why] for c in run.cases]


def run_eval(
    assistant: Assistant,
    eval_set: Path,
    articles: Path,
    limit: int | None = None,
    progress: ProgressFn | None = None,
) -> tuple[list[list[str]], list[list[str]], str, str]:
    """Metrics rows, per-case rows, the chart's path and a summary line for one run of the eval set.

    The run indexes the set's articles into a temporary index, so the library is not touched.
    """
    total = len(load_cases(eval_set))
    total = min(total, limit) if limit else total
    done = 0

    def tick(_: object) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done / max(total, 1), f"case {done} of {total}")

    if progress:
        progress(0.0, f"indexing {articles.name}/ into a temporary index")
    run = evaluate(eval_set, articles=articles, settings=assistant.settings, limit=limit or None, on_case=tick)
    report = write_report(run, tempfile.mkdtemp(prefix="qa-ui-eval-"))
    m = run.metrics
    summary = (
        f"{m.cases} cases answered by {run.backend} ({run.model}) in {run.seconds:.0f} s: "
        f"accuracy {m.accuracy:.3f}, judged right overall {m.overall:.3f}. Report: {report}"
    )
    return metric_rows(run), case_rows(run), str(report.parent / "chart.png"), summary
