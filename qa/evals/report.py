"""The eval report: results.json for machines, report.md and chart.png for people."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from qa.evals.results import EvalRun, Metrics

if TYPE_CHECKING:  # realtimeqa imports the assistant; the seed-set report does not need it
    from qa.evals.realtimeqa import RealTimeQARun

HEADLINE = (
    ("accuracy", "answer accuracy (answerable)"),
    ("overall", "judged right (all cases)"),
    ("refusal_precision", "refusal precision"),
    ("refusal_recall", "refusal recall"),
    ("citation_precision", "citation precision"),
    ("citation_recall", "citation recall"),
    ("hit_at_k", "retrieval hit@k"),
    ("mrr", "retrieval MRR"),
    ("number_faithfulness", "number faithfulness"),
)


def headline(metrics: Metrics) -> list[tuple[str, str, float | None]]:
    """(key, label, value) for the metrics a gate or a table shows."""
    rows = [(key, label, getattr(metrics, key)) for key, label in HEADLINE]
    return [(k, label.replace("@k", f"@{metrics.k}"), v) for k, label, v in rows]


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def realtimeqa_data(run: RealTimeQARun) -> str:
    """What a RealTimeQA run was asked, in one line: the data folder, the weeks, how many questions, their dates,
    and the retrieval."""
    if run.split:
        weeks = f"split {run.split} (weeks {run.weeks})"
    else:
        weeks = f"weeks {run.weeks}" if run.weeks else "all weeks"
    count = f"{run.questions} question{'' if run.questions == 1 else 's'}"
    if run.questions_in_weeks is not None and run.questions_in_weeks != run.questions:
        count += f" of {run.questions_in_weeks}"
    if run.sample is not None:
        count += f" (fixed sample of {run.sample})"
    elif run.limit is not None:
        count += f" (first {run.limit})"
    dates = f"dated {run.first_date} to {run.last_date}" if run.first_date else "none dated"
    retrieval = (
        "lexical retrieval (BM25 in memory, no dense search)" if run.retrieval == "lexical" else "hybrid retrieval"
    )
    return f"data {run.data} · {weeks} · {count}, {dates} · {retrieval}"


def write_chart(run: EvalRun, path: Path) -> Path:
    """Accuracy per question type and latency per stage, side by side."""
    import matplotlib

    matplotlib.use("Agg")  # no display here, and none needed
    import matplotlib.pyplot as plt

    metrics = run.metrics
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), dpi=100)
    types = list(metrics.by_type)
    left.barh(types, [metrics.by_type[t] for t in types], color="#3b7dd8")
    left.set_xlim(0, 1)
    left.set_xlabel("share judged right")
    left.set_title("Accuracy by question type")
    left.invert_yaxis()

    stages = list(metrics.latency_ms)
    p50 = [(metrics.latency_ms[s].p50 or 0) / 1000 for s in stages]
    p95 = [(metrics.latency_ms[s].p95 or 0) / 1000 for s in stages]
    positions = range(len(stages))
    right.bar([x - 0.2 for x in positions], p50, width=0.4, label="p50", color="#3b7dd8")
    right.bar([x + 0.2 for x in positions], p95, width=0.4, label="p95", color="#f0a030")
    right.set_xticks(list(positions), stages)
    right.set_ylabel("seconds")
    right.set_title(f"Latency per stage ({run.backend})")
    right.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def markdown(run: EvalRun, chart: str | None = "chart.png") -> str:
    m = run.metrics
    lines = [
        f"# Eval report: {run.set}",
        "",
        f"{m.cases} cases ({m.answerable} answerable), answered by {run.backend} `{run.model}` "
        f"on {run.created} in {run.seconds:.0f} s. Settings: "
        + ", ".join(f"{k}={v}" for k, v in run.settings.items())
        + ".",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {label} | {fmt(value)} |" for _, label, value in headline(m)),
        *(
            f"| latency {stage} p50 / p95 (ms) | {fmt(lat.p50)} / {fmt(lat.p95)} |"
            for stage, lat in m.latency_ms.items()
        ),
        "",
    ]
    if chart:
        lines += [f"![accuracy by type and latency]({chart})", ""]
    lines += ["## By question type", "", "| type | judged right |", "|---|---|"]
    lines += [f"| {t} | {fmt(v)} |" for t, v in m.by_type.items()]
    lines += ["", "## Cases", "", "| id | type | verdict | answer | citations | why |", "|---|---|---|---|---|---|"]
    for r in run.cases:
        cites = ", ".join(f"[{c.n}]{'✓' if c.supports else '✗'}" for c in r.citations) or "—"
        lines.append(f"| {r.id} | {r.type} | {r.verdict} | {_cell(r.answer)} | {cites} | {_cell(r.why)} |")
    lines += ["", "Questions:", ""]
    lines += [f"- **{r.id}**: {r.question}" for r in run.cases]
    return "\n".join(lines) + "\n"


def write_report(run: EvalRun, directory: str | Path) -> Path:
    """results.json, report.md and chart.png in `directory`; returns the Markdown file."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    run.save(directory / "results.json")
    write_chart(run, directory / "chart.png")
    report = directory / "report.md"
    report.write_text(markdown(run), encoding="utf-8")
    return report
