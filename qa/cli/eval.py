"""`qa eval`: run an eval set (or RealTimeQA), print the metrics, write reports, gate, compare runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from qa import Settings
from qa.errors import InputError
from qa.evals import CaseResult, EvalRun, compare_runs, evaluate, failures, write_report
from qa.evals.realtimeqa import (
    DEFAULT_DATA,
    DEFAULT_INDEX,
    REFERENCE,
    RETRIEVALS,
    SPLITS,
    QuestionResult,
    parse_weeks,
    run_realtimeqa,
)
from qa.evals.report import fmt, headline, realtimeqa_data

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
REALTIMEQA = "realtimeqa"

_MINIMUMS = {
    "min_accuracy": "accuracy",
    "min_overall": "overall",
    "min_refusal_precision": "refusal_precision",
    "min_refusal_recall": "refusal_recall",
    "min_citation_precision": "citation_precision",
    "min_citation_recall": "citation_recall",
    "min_hit": "hit_at_k",
    "min_mrr": "mrr",
    "min_number_faithfulness": "number_faithfulness",
}


def _check_weeks(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A --weeks range is checked before any work (parse_weeks names the form); it is kept as given."""
    if value is None:
        return None
    try:
        parse_weeks(value)
    except InputError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None
    return value.strip()


def _gate_options(command: Any) -> Any:
    for option, metric in reversed(_MINIMUMS.items()):
        flag = "--" + option.replace("_", "-")
        command = click.option(flag, option, type=click.FloatRange(0, 1), help=f"Fail below this {metric}.")(command)
    return command


@click.command("eval")
@click.option(
    "--set",
    "set_path",
    default="evals/seeds.jsonl",
    show_default=True,
    help=f"JSON-lines eval set, or '{REALTIMEQA}' for the news-quiz benchmark.",
)
@click.option(
    "--articles",
    "article_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Articles the set is about (default: seeds/); indexed into a temporary index.",
)
@click.option("--backend", type=click.Choice(["auto", "ollama", "embedded"]), help="Answering model.")
@click.option("--top-k", type=click.IntRange(1, 50), help="Passages per question.")
@click.option("--mode", type=click.Choice(["auto", "generate", "extract"]), help="Answer mode (QA_MODE).")
@click.option("--limit", type=click.IntRange(1), help="Only the first N cases or questions.")
@click.option("--sample", type=click.IntRange(1), help="RealTimeQA: a fixed random sample of N questions.")
@click.option(
    "--weeks",
    metavar="FROM..TO",
    callback=_check_weeks,
    help="RealTimeQA: only questions dated in these months or days (2024-01..2024-03, 2024-04-05..2024-04-26, "
    "2024-02) or a split ("
    + ", ".join(f"{name} = {weeks}" for name, weeks in SPLITS.items())
    + "), before --limit / --sample.",
)
@click.option("--json", "as_json", is_flag=True, help="Print all results and metrics as JSON.")
@click.option(
    "--report", "report_dir", type=click.Path(path_type=Path), help="Write results.json, report.md and chart.png here."
)
@click.option(
    "--compare",
    nargs=2,
    type=click.Path(path_type=Path),
    metavar="BEFORE AFTER",
    help="Compare two results.json files (or report folders) instead of running.",
)
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=DEFAULT_DATA,
    show_default=True,
    help="RealTimeQA: the benchmark folder.",
)
@click.option(
    "--benchmark-index",
    type=click.Path(path_type=Path),
    default=DEFAULT_INDEX,
    show_default=True,
    help="RealTimeQA: where its articles are indexed (reused across runs).",
)
@click.option("--no-free-text", is_flag=True, help="RealTimeQA: skip the model-written answers (EM/F1).")
@click.option(
    "--retrieval",
    type=click.Choice(RETRIEVALS),
    default="hybrid",
    show_default=True,
    help="RealTimeQA: 'lexical' builds no index (embedding the archive takes about 85 minutes on 2 cores): "
    "BM25 over its chunks in memory.",
)
@_gate_options
@click.pass_context
def eval_command(
    ctx: click.Context,
    /,
    set_path: str,
    article_paths: tuple[Path, ...],
    backend: str | None,
    top_k: int | None,
    mode: str | None,
    limit: int | None,
    sample: int | None,
    weeks: str | None,
    as_json: bool,
    report_dir: Path | None,
    compare: tuple[Path, Path] | None,
    data: Path,
    benchmark_index: Path,
    no_free_text: bool,
    retrieval: str,
    **minimums: float | None,
) -> None:
    """Measure that answers match the source facts: accuracy, refusals, citations, retrieval, numbers, latency."""
    if weeks and set_path != REALTIMEQA:
        raise click.UsageError(f"--weeks chooses RealTimeQA questions; use it with --set {REALTIMEQA}")
    if compare:
        _print_comparison(EvalRun.load(compare[0]), EvalRun.load(compare[1]))
        return
    backend = backend or (ctx.obj or {}).get("backend")
    settings = Settings()
    if mode:
        settings = settings.model_copy(update={"mode": mode})
    if set_path == REALTIMEQA:
        # The benchmark's articles go into --benchmark-index, a local directory, never a shared Chroma server.
        local = settings.model_copy(update={"chroma_url": None})
        _realtimeqa(
            local,
            data,
            benchmark_index,
            backend,
            limit,
            sample,
            weeks,
            not no_free_text,
            retrieval,
            as_json,
            report_dir,
        )
        return

    judged: list[CaseResult] = []
    with err.status("Indexing the articles into a temporary index…") as spinner:

        def show(result: CaseResult) -> None:
            judged.append(result)
            right = sum(r.correct for r in judged)
            spinner.update(f"Judged {len(judged)} cases, {right} right (last: {result.id}, {result.verdict})")

        run = evaluate(
            set_path,
            articles=list(article_paths) or ["seeds"],
            settings=settings,
            backend=backend,
            top_k=top_k,
            limit=limit,
            mode=mode,
            on_case=show,
        )
    if report_dir:
        report = write_report(run, report_dir)
        err.print(f"Report: {report} (results.json and chart.png beside it)")
    if as_json:
        click.echo(json.dumps(run.model_dump(mode="json"), ensure_ascii=False))
    else:
        _print_run(run)
    problems = failures(run.metrics, {metric: minimums[option] for option, metric in _MINIMUMS.items()})
    if problems:
        err.print(f"[red]Below the thresholds:[/red] {'; '.join(problems)}")
        sys.exit(1)


def _print_run(run: EvalRun) -> None:
    out.print(f"[bold]{escape(run.set)}[/bold]: {len(run.cases)} cases")
    for r in run.cases:
        mark = "[green]✓[/green]" if r.correct else "[red]✗[/red]"
        out.print(f"{mark} [bold]{r.id}[/bold] ({r.type}) {r.verdict}: {escape(r.why)}")
        out.print(f"    {escape(r.answer)}", style="dim")
    m = run.metrics
    table = Table("metric", "value", title=f"{run.backend} · {run.model} · {run.seconds:.0f} s")
    for _, label, value in headline(m):
        table.add_row(label, fmt(value))
    for stage, lat in m.latency_ms.items():
        table.add_row(f"latency {stage} p50 / p95 (ms)", f"{fmt(lat.p50)} / {fmt(lat.p95)}")
    for kind, value in m.by_type.items():
        table.add_row(f"judged right: {kind}", fmt(value))
    out.print(table)


def _print_comparison(before: EvalRun, after: EvalRun) -> None:
    comparison = compare_runs(before, after)
    table = Table("metric", "before", "after", "change")
    for change in comparison.metrics:
        delta = change.delta
        shown = "" if delta is None or delta == 0 else f"[{'green' if delta > 0 else 'red'}]{delta:+.3f}[/]"
        table.add_row(change.label, fmt(change.before), fmt(change.after), shown)
    out.print(table)
    kinds = ("fixed", "broken", "changed", "reworded", "added", "removed")
    out.print(" · ".join(f"{kind} {comparison.count(kind)}" for kind in kinds))
    for case in comparison.cases:
        out.print(f"[bold]{case.id}[/bold] ({case.kind}): {case.before} → {case.after}")
        if case.answer_before != case.answer_after:
            out.print(f"   before: {escape(case.answer_before)}", style="dim")
            out.print(f"   after:  {escape(case.answer_after)}")


def _realtimeqa(
    settings: Settings,
    data: Path,
    index: Path,
    backend: str | None,
    limit: int | None,
    sample: int | None,
    weeks: str | None,
    free_text: bool,
    retrieval: str,
    as_json: bool,
    report_dir: Path | None,
) -> None:
    done = [0]

    def show(result: QuestionResult) -> None:
        done[0] += 1
        mark = "[green]✓[/green]" if result.mc_correct else "[red]✗[/red]"
        err.print(f"{done[0]:4d} {mark} {result.question_id} {result.seconds:.1f} s")

    if retrieval == "lexical":
        err.print("Chunking the benchmark's articles for BM25 in memory (no index is written)")
    else:
        err.print(f"Indexing the benchmark's articles into {index} (the first run takes a while; later ones reuse it)")
    run = run_realtimeqa(
        data,
        index_dir=index,
        settings=settings,
        backend=backend,
        limit=limit,
        sample=sample,
        weeks=weeks,
        free_text=free_text,
        retrieval=retrieval,
        on_question=None if as_json else show,
    )
    if report_dir:
        err.print(f"Results: {run.save(Path(report_dir) / 'realtimeqa.json')}")
    if as_json:
        click.echo(run.model_dump_json())
        return
    out.print(f"[bold]RealTimeQA[/bold] {escape(realtimeqa_data(run))}")
    table = Table(
        "metric",
        "ours",
        "reference (GPT-3 + search, 2023)",
        title=f"{run.questions} questions, {run.seconds:.0f} s (+{run.index_seconds:.0f} s "
        f"{'chunking' if run.retrieval == 'lexical' else 'indexing'})",
    )
    for key, value in run.metrics.items():
        ref = REFERENCE.get(key)
        table.add_row(key, "n/a" if value is None else f"{value:g}", "" if ref is None else f"{ref:g}")
    out.print(table)
