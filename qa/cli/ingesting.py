"""`qa ingest` and `qa watch`: articles in, once or every so often."""

from __future__ import annotations

import json
import os
import re
import sys
import time

import click
from rich.markup import escape

from qa import IngestReport, Progress
from qa.cli.common import assistant_from, err, out, say_wait


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--rebuild", is_flag=True, help="Drop the index first and index everything again.")
@click.option("--no-prune", is_flag=True, help="Keep articles of files deleted from the given folders.")
@click.pass_context
def ingest(ctx: click.Context, paths: tuple[str, ...], as_json: bool, rebuild: bool, no_prune: bool) -> None:
    """Index the articles in PATHS: files or folders (.txt, .md, .html, .jsonl), feed files (.xml, .rss, .atom),
    and http(s):// URLs of pages or feeds, which are fetched."""
    assistant = assistant_from(ctx)
    if any(_is_url(p) for p in paths) and not as_json:
        err.print("Fetching the pages and feeds named…")
    if as_json:
        report = assistant.ingest(paths, prune=not no_prune, rebuild=rebuild, on_wait=say_wait)
        click.echo(json.dumps(report.model_dump(exclude={"seconds"}), ensure_ascii=False))
        return
    from rich.progress import BarColumn, TaskProgressColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    last: list[Progress] = []
    # The bar and the time left follow the bytes read, so one big JSON lines file shows a meaningful ETA too.
    with Bar(
        TextColumn("Indexing"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[status]}"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("ingest", total=None, status="")

        def show(progress: Progress) -> None:
            last[:] = [progress]
            bar.update(
                task,
                completed=progress.bytes_done,
                total=progress.bytes_total or None,
                status=_progress_status(progress),
            )

        try:
            report = assistant.ingest(
                paths, prune=not no_prune, rebuild=rebuild, on_progress=show, on_wait=lambda m: bar.console.print(m)
            )
        except KeyboardInterrupt:
            bar.stop()
            where = f" after {_progress_status(last[0])}" if last else ""
            err.print(
                f"Interrupted{where}; everything written so far is kept. Run the same command again to resume "
                "where it stopped."
            )
            sys.exit(130)
    print_report(report)


def _is_url(path: str) -> bool:
    return path.lower().startswith(("http://", "https://")) and not os.path.lexists(path)


@click.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path())
@click.option(
    "--every", "every", default="15m", show_default=True, help="Time between rounds: 30s, 15m, 1h (at least 10s)."
)
@click.option("--rounds", type=click.IntRange(min=1), help="Stop after this many rounds (default: until Ctrl-C).")
@click.option("--no-prune", is_flag=True, help="Keep articles of files deleted from the given folders.")
@click.pass_context
def watch(ctx: click.Context, sources: tuple[str, ...], every: str, rounds: int | None, no_prune: bool) -> None:
    """Ingest SOURCES (feeds, URLs, files, folders) again and again, EVERY so often; Ctrl-C stops.

    Each round is the same incremental ingest as `qa ingest`: what is unchanged is skipped, new entries are added.
    """
    try:
        seconds = parse_interval(every)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--every") from None
    assistant = assistant_from(ctx)
    done = 0
    last_failures: list[tuple[str, str]] = []
    try:
        while True:
            report = assistant.ingest(sources, prune=not no_prune, on_wait=say_wait)
            done += 1
            out.print(
                f"{time.strftime('%H:%M:%S')} round {done}: added {report.added} · updated {report.updated} · "
                f"unchanged {report.unchanged} · removed {report.removed} · failed {len(report.failed)} · "
                f"fetched {report.fetched}"
            )
            # A dead link fails every round: its reason is printed when it first shows, not every few minutes.
            failures = [(f.path, f.error) for f in report.failed]
            for path, error in failures:
                if (path, error) not in last_failures:
                    out.print(f"  [yellow]skipped[/yellow] {escape(path)}: {escape(error)}")
            last_failures = failures
            if rounds is not None and done >= rounds:
                return
            time.sleep(seconds)
    except KeyboardInterrupt:
        err.print(f"Stopped after {done} round(s); everything indexed is kept.")


_INTERVAL = re.compile(r"(\d+(?:\.\d+)?)\s*([smh]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}
MIN_INTERVAL_SECONDS = 10  # more often than this would hammer a site for news that changes by the hour


def parse_interval(text: str) -> float:
    """Seconds in "30s", "15m", "1h" (a bare number is seconds); ValueError says what to write."""
    match = _INTERVAL.fullmatch(text.strip().lower())
    if not match:
        raise ValueError(f"{text!r} is not a time; write it like 30s, 15m or 1h")
    seconds = float(match[1]) * _UNIT_SECONDS[match[2]]
    if seconds < MIN_INTERVAL_SECONDS:
        raise ValueError(f"{text!r} is too often; watch at most every {MIN_INTERVAL_SECONDS}s")
    return seconds


def _progress_status(progress: Progress) -> str:
    rate = f" · {progress.chunks / progress.seconds:,.1f} chunks/s" if progress.seconds > 0 and progress.chunks else ""
    return (
        f"{progress.files_done:,}/{progress.files_total:,} files · {progress.articles:,} articles read · "
        f"{progress.chunks:,} chunks written{rate}"
    )


def print_report(report: IngestReport) -> None:
    out.print(
        f"added {report.added} · updated {report.updated} · unchanged {report.unchanged} · "
        f"removed {report.removed} · failed {len(report.failed)} · {report.chunks} chunks written "
        f"in {report.seconds:.1f} s"
    )
    if report.extracted:
        found = ", ".join(
            f"{n} by {'the fallback rules' if how == 'rules' else how}" for how, n in report.extracted.items()
        )
        out.print(f"  HTML pages read: {found}")
    if report.replaced:
        out.print(f"  replaced {report.replaced} older version(s) at the same URL")
    if report.fetched:
        out.print(f"  fetched {report.fetched} page(s) and feed(s)")
    for failure in report.failed:
        out.print(f"  [yellow]skipped[/yellow] {escape(failure.path)}: {escape(failure.error)}")
