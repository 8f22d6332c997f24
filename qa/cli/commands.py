"""`qa`: the command line. Parses, calls the Python API, prints — nothing else."""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.markup import escape
from rich.table import Table

from qa import Answer, Assistant, QAError
from qa.cli.common import assistant_from, err, out, say_wait, settings_from
from qa.cli.eval import eval_command
from qa.cli.ingesting import ingest, print_report, watch
from qa.settings import SettingsWarning, describe_settings_error, unknown_variables


class _Group(click.Group):
    """Turns our errors into one clean line and a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except QAError as exc:
            err.print(f"[red]Error:[/red] {escape(str(exc))}")
            sys.exit(1)
        except (ValidationError, SettingsError) as exc:
            problems = describe_settings_error(exc)
            err.print(f"[red]Error in settings:[/red] {escape(problems)} (check your QA_* environment variables)")
            sys.exit(2)
        except KeyboardInterrupt:
            err.print("Interrupted; what was already indexed is kept. Run the same command again to resume.")
            sys.exit(130)


def _index_options(index_dir: str | None, chroma_url: str | None) -> dict[str, str | None]:
    """The index named by --index or --chroma-url, as settings overrides (None: not given)."""
    if index_dir is not None and chroma_url is not None:
        raise click.UsageError("--index and --chroma-url name two different indexes; give one of them")
    if index_dir is not None:
        return {"index_dir": index_dir, "chroma_url": ""}  # a directory given here wins over QA_CHROMA_URL
    return {"index_dir": None, "chroma_url": chroma_url}


@click.group(cls=_Group)
# Paths stay str until Settings checks them: click would turn "" into Path("."), the current folder.
@click.option("--index", "index_dir", type=click.Path(), help="Index directory (QA_INDEX_DIR).")
@click.option("--chroma-url", metavar="URL", help="Use the index on a Chroma server, http://host:port (QA_CHROMA_URL).")
@click.option("--backend", type=click.Choice(["auto", "ollama", "embedded"]), help="Answering model (QA_BACKEND).")
@click.version_option(package_name="newsqa", prog_name="qa")
@click.pass_context
def cli(ctx: click.Context, index_dir: str | None, chroma_url: str | None, backend: str | None) -> None:
    """Ask questions about a folder of news articles; answers cite the passages they come from."""
    for message in unknown_variables(os.environ):
        err.print(f"[yellow]Warning:[/yellow] {escape(message)}")
    warnings.simplefilter("ignore", SettingsWarning)  # said once above, not again by every Settings()
    ctx.obj = {**_index_options(index_dir, chroma_url), "backend": backend}


@cli.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON (see README for the fields).")
@click.option("--top-k", type=click.IntRange(1, 50), help="Passages given to the model.")
@click.option("--from", "date_from", help="Only articles dated on or after this day (YYYY-MM-DD).")
@click.option("--to", "date_to", help="Only articles dated on or before this day (YYYY-MM-DD).")
@click.option("--choice", "choices", multiple=True, help="An option of a multiple-choice question (repeat it).")
@click.option("--mode", type=click.Choice(["auto", "generate", "extract"]), help="Verified model text, or quotes.")
@click.pass_context
def ask(
    ctx: click.Context,
    question: str,
    as_json: bool,
    top_k: int | None,
    date_from: str | None,
    date_to: str | None,
    choices: tuple[str, ...],
    mode: str | None,
) -> None:
    """Answer QUESTION from the indexed articles, with citations."""
    assistant = assistant_from(ctx)
    options = list(choices) or None
    if as_json:
        answer = assistant.ask(question, top_k=top_k, date_from=date_from, date_to=date_to, choices=options, mode=mode)
        click.echo(json.dumps(answer.to_json(), ensure_ascii=False))
        return
    with err.status("Reading the articles…"):
        answer = assistant.ask(question, top_k=top_k, date_from=date_from, date_to=date_to, choices=options, mode=mode)
    _print_answer(answer)


def _print_answer(answer: Answer) -> None:
    if answer.note:
        err.print(f"[dim]{escape(answer.note)}[/dim]")
    out.print(escape(answer.answer), style="bold yellow" if answer.refused else "bold")
    if answer.mode == "extract" and not answer.refused and answer.backend != "none":
        out.print("  (quoted from the articles: the model's own sentences could not be verified)", style="dim")
    for removed in answer.removed:
        out.print(f"  [strike]{escape(removed.text)}[/strike] — removed: {escape(removed.reason)}", style="dim")
    for c in answer.citations:
        out.print(f"  [cyan][{c.n}][/cyan] {escape(c.title)} ({c.date or 'undated'}) — {escape(c.source)}")
        if c.also_in:
            where = "; ".join(f"{escape(o.source)} ({o.date or 'undated'})" for o in c.also_in)
            out.print(f"      also in {len(c.also_in)} other article{'s' * (len(c.also_in) > 1)}: {where}", style="dim")
        out.print(f"      “{escape(c.quote)}”", style="dim")
    if answer.refused and answer.passages:
        out.print("  Closest passages (related, but not an answer):", style="dim")
        for p in answer.passages[:3]:
            out.print(f"    {escape(p.title)} ({p.date or 'undated'}), score {p.score:.2f}", style="dim")
    t = answer.timings_ms
    out.print(
        f"[dim]{answer.backend} · {escape(answer.model)} · retrieve {t.retrieve:.0f} ms · "
        f"generate {t.generate:.0f} ms[/dim]"
    )


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Where the index is, what it holds, and which model answers."""
    info = assistant_from(ctx).status()
    if as_json:
        click.echo(json.dumps(info.model_dump(), ensure_ascii=False))
        return
    where = f"Chroma server, collections {info.collection}_*" if info.server else "local directory"
    out.print(f"index            {escape(info.index)} [dim]({escape(where)})[/dim]")
    out.print(f"articles         {info.articles} ({info.stories} stories)")
    out.print(f"chunks           {info.chunks}")
    out.print(f"embedding model  {escape(info.embedding_model)}")
    out.print(f"backend          {info.backend} ({escape(info.model)})")
    if info.note:
        out.print(f"                 [dim]{escape(info.note)}[/dim]")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON lines.")
@click.pass_context
def articles(ctx: click.Context, as_json: bool) -> None:
    """List the indexed articles."""
    records = assistant_from(ctx).articles()
    if as_json:
        for r in records:
            click.echo(json.dumps(r.__dict__, ensure_ascii=False))
        return
    table = Table("id", "date", "title", "chunks", "source")
    for r in records:
        table.add_row(r.doc_id, r.date or "undated", escape(r.title), str(r.chunks), escape(r.source))
    out.print(table)


@cli.command()
@click.argument("doc_ids", nargs=-1, required=True)
@click.pass_context
def remove(ctx: click.Context, doc_ids: tuple[str, ...]) -> None:
    """Delete articles from the index by id (see `qa articles`)."""
    removed = assistant_from(ctx).remove(doc_ids, on_wait=say_wait)
    out.print(f"removed {removed} of {len(doc_ids)} articles")


@cli.command()
@click.option("--repair", is_flag=True, help="Rebuild the chunks and vectors from the catalog when a check fails.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def doctor(ctx: click.Context, repair: bool, as_json: bool) -> None:
    """Check that the index is whole (catalog, chunks, vectors agree); --repair fixes it. Exit 1 while it is not."""
    report = assistant_from(ctx).doctor(repair=repair, on_wait=say_wait)
    if as_json:
        click.echo(json.dumps({**report.model_dump(), "ok": report.ok}, ensure_ascii=False))
    else:
        out.print(f"index {escape(report.index)}: {report.articles} articles, {report.chunks} chunks")
        for check in report.checked:
            out.print(f"  checked: {escape(check)}")
        for problem in report.problems:
            out.print(f"  [yellow]wrong[/yellow]: {escape(problem.message)}")
        for fix in report.fixed:
            out.print(f"  [green]fixed[/green]: {escape(fix)}")
        if report.ok:
            out.print("healthy" if not report.problems else "healthy after the repair")
        else:
            out.print(
                "[red]still wrong[/red]: " + escape("; ".join(p.message for p in report.remaining)),
            )
            if not repair:
                out.print("Run `qa doctor --repair` to rebuild the chunks and vectors from the catalog.")
    if not report.ok:
        sys.exit(1)


@cli.command()
@click.pass_context
def compact(ctx: click.Context) -> None:
    """Give back the disk space that deletes and updates left in the index; every article and vector is kept."""
    report = assistant_from(ctx).compact(on_wait=say_wait)
    line = f"index {escape(report.index)}: {report.records} records copied into fresh collections"
    if report.bytes_before is not None and report.bytes_after is not None:
        line += f"; {report.bytes_before / 1e6:.1f} MB → {report.bytes_after / 1e6:.1f} MB on disk"
        line += f" ({report.folders_removed} unused vector index folders removed)"
    else:
        line += "; on the server, `chroma vacuum --path DIR` gives SQLite's free pages back"
    out.print(line)


@cli.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Convert an index written by an older newsqa to the current layout, in place; every vector is kept."""
    report = assistant_from(ctx).migrate(
        on_wait=say_wait, on_page=lambda done, total: err.print(f"  {done}/{total} articles", end="\r")
    )
    if report.from_layout == report.to_layout:
        out.print(f"index {escape(report.index)} already has layout {report.to_layout}; nothing to do")
        return
    out.print(
        f"index {escape(report.index)}: converted from layout {report.from_layout} to {report.to_layout} "
        f"({report.articles} articles, {report.chunks} chunks)"
    )


@cli.command()
@click.option("--seed", type=click.Path(path_type=Path), help="Index this folder first if the index is empty.")
@click.pass_context
def chat(ctx: click.Context, seed: Path | None) -> None:
    """Ask questions one after another in the terminal (empty line or Ctrl-D to quit)."""
    assistant = assistant_from(ctx)
    if seed is not None and assistant.status(probe_backend=False).chunks == 0:
        with err.status(f"Indexing {seed} (first run)…"):
            print_report(assistant.ingest([seed]))
    info = assistant.status()
    indexed = f"{info.articles} articles ({info.stories} stories) indexed"
    out.print(f"[bold]{indexed}[/bold] · answering with {info.backend} ({escape(info.model)})")
    if info.note:
        out.print(f"[dim]{escape(info.note)}[/dim]")
    while True:
        try:
            question = input("\nquestion> ").strip()
        except EOFError:
            break
        if not question:
            break
        try:
            with err.status("Reading the articles…"):
                answer = assistant.ask(question)
        except QAError as exc:
            err.print(f"[red]Error:[/red] {escape(str(exc))}")
            continue
        _print_answer(answer)


# The repository's folders beside the package (an editable install, `make run`): the seed articles indexed into an
# empty index, and the seed eval set the UI's Evals tab runs.
_REPO = Path(__file__).resolve().parents[2]


@cli.command()
@click.option("--host", help="Address to listen on (QA_UI_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (QA_UI_PORT, default 7860).")
@click.option("--index", "index_dir", type=click.Path(), help="Index directory (QA_INDEX_DIR); as `qa --index`.")
@click.option(
    "--chroma-url", metavar="URL", help="Use the index on a Chroma server (QA_CHROMA_URL); as `qa --chroma-url`."
)
@click.option("--no-seed", is_flag=True, help="Do not index the seed articles into an empty index.")
@click.pass_context
def serve(
    ctx: click.Context, host: str | None, port: int | None, index_dir: str | None, chroma_url: str | None, no_seed: bool
) -> None:
    """Start the web UI and the HTTP API on one port (what `make run` and `python app.py` do). Off loopback it asks
    for QA_UI_USER / QA_UI_PASSWORD and QA_API_KEY, and refuses to start without them."""
    from qa.api.access import api_key
    from qa.api.server import build_server
    from qa.api.server import serve as run_server
    from qa.errors import ConfigError
    from qa.ui.access import ui_auth

    given = index_dir is not None or chroma_url is not None  # serve's own options replace the group's
    settings = settings_from(ctx, **(_index_options(index_dir, chroma_url) if given else {}))
    host = host or settings.ui_host
    port = port or settings.ui_port
    try:
        # Before any indexing: an unusable setting stops the start at once.
        auth, key = ui_auth(settings, host), api_key(settings, host)
    except ConfigError as exc:
        err.print(f"[red]Error:[/red] {escape(str(exc))}")
        sys.exit(2)
    assistant = Assistant(settings)
    seeds, eval_set = _REPO / "seeds", _REPO / "evals" / "seeds.jsonl"
    if not no_seed and seeds.is_dir() and assistant.status(probe_backend=False).chunks == 0:
        out.print(f"Indexing {seeds} (first run)…")
        print_report(assistant.ingest([seeds]))
    blocked = [settings.uploads, settings.fetched] + ([] if settings.chroma_url else [settings.index_dir])
    try:
        app = build_server(
            assistant,
            host=host,
            port=port,
            key=key,
            ui_auth=auth,
            blocked_paths=blocked,
            eval_set=eval_set if eval_set.is_file() else None,
            eval_articles=seeds if seeds.is_dir() else None,
        )
    except ConfigError as exc:  # e.g. GRADIO_ALLOWED_PATHS naming a folder the UI must not serve
        err.print(f"[red]Error:[/red] {escape(str(exc))}")
        sys.exit(2)
    run_server(app, host=host, port=port)


cli.add_command(eval_command)
cli.add_command(ingest)
cli.add_command(watch)


def main(args: list[str] | None = None) -> None:
    cli.main(args=args, prog_name="qa")


if __name__ == "__main__":
    main()
