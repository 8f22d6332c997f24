"""The library tab's handlers: list, filter, delete, upload articles and add feeds or links, all through the
Assistant."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from qa import Assistant, IngestReport, Progress, UploadResult, ingest_upload, keep_upload, upload_summary
from qa.ui.render import article_rows

# (fraction done, what is being done) — gr.Progress fits this shape, and so does a test's list.append.
ProgressFn = Callable[[float, str], None]
RESULT_HEADERS = ["file", "result", "detail"]


def article_choices(assistant: Assistant) -> list[tuple[str, str]]:
    """(label, doc id) pairs for the delete picker."""
    return [(f"{r.title} ({r.date or 'undated'}) · {r.doc_id}", r.doc_id) for r in assistant.articles()]


def table(assistant: Assistant, query: str | None = "") -> list[list[object]]:
    return article_rows(assistant.articles(), query)


def heading(assistant: Assistant) -> str:
    """The library table's label: the article count, and beside it the stories they tell (copies counted once)."""
    info = assistant.status(probe_backend=False)
    return f"Indexed articles: {info.articles:,} ({info.stories:,} {'story' if info.stories == 1 else 'stories'})"


def delete(assistant: Assistant, doc_ids: Sequence[object] | None) -> str:
    # The picker takes custom values, so a request can send anything here; only known ids are ever removed.
    ids = [d for d in (doc_ids or []) if isinstance(d, str) and d]
    if not ids:
        return "Pick one or more articles to delete first."
    removed = assistant.remove(ids)
    return f"Deleted {removed} of {len(ids)} article(s)." + (
        "" if removed == len(ids) else " The others were not in the index (already deleted?)."
    )


def upload(
    assistant: Assistant, files: Sequence[str] | None, progress: ProgressFn | None = None, *, received_in: Path
) -> tuple[list[list[str]], str]:
    """Check, keep and ingest each uploaded file; one result row per file, and a summary line.

    `received_in` is the web server's upload folder: a path outside it was not uploaded and is refused.
    """
    paths = [str(f) for f in (files or [])]
    if not paths:
        return [], "Choose article files first (txt, md, html or jsonl)."
    results = []
    total = len(paths)
    for i, raw in enumerate(paths):
        name = Path(raw).name
        if progress:
            progress(i / total, f"{name} ({i + 1} of {total})")

        def show(p: Progress, done: int = i, name: str = name) -> None:
            if progress and p.files_total:
                progress((done + p.files_done / p.files_total) / total, f"{name}: {p.chunks} chunks")

        kept = keep_upload(raw, assistant.settings, name, received_in=received_in)
        results.append(ingest_upload(kept, lambda path: assistant.ingest([path], prune=False, on_progress=show)))
    if progress:
        progress(1.0, "done")
    return [[r.file, r.result, r.detail] for r in results], upload_summary(results)


MAX_LINKS = 20  # one click of the button; a longer list belongs in `qa ingest` or `qa watch`


def add_links(
    assistant: Assistant, text: str | None, progress: ProgressFn | None = None
) -> tuple[list[list[str]], str]:
    """Fetch and ingest each URL in `text` (one per line or space apart): a page, or a feed and its entries.

    Only URLs: `Assistant.ingest_urls` never reads a path, so nothing typed here names a file of the server.
    One row per URL, and one more per entry of a feed that could not be used.
    """
    urls = (text or "").split()
    if not urls:
        return [], "Paste the address of a feed or a page first (http:// or https://)."
    if len(urls) > MAX_LINKS:
        return [], f"{len(urls)} addresses at once; add at most {MAX_LINKS} here, or use `qa ingest` for more."
    results: list[UploadResult] = []
    for i, url in enumerate(urls):
        if progress:
            progress(i / len(urls), f"fetching {url} ({i + 1} of {len(urls)})")
        results += link_results(url, assistant.ingest_urls([url]))
    if progress:
        progress(1.0, "done")
    return [[r.file, r.result, r.detail] for r in results], upload_summary(results).replace("file(s)", "item(s)")


def link_results(url: str, report: IngestReport) -> list[UploadResult]:
    """What became of one URL: its own row, then a row per feed entry that failed (a dead link, a slow page)."""
    own = [f.error for f in report.failed if f.path == url]
    others = [UploadResult(file=f.path, result="failed", detail=f.error) for f in report.failed if f.path != url]
    if own:
        return [UploadResult(file=url, result="failed", detail="; ".join(own)), *others]
    written = report.added + report.updated
    if written:
        detail = f"{written} article(s), {report.chunks} chunks" + (
            f"; {report.unchanged} already indexed" if report.unchanged else ""
        )
        return [UploadResult(file=url, result="added" if report.added else "updated", detail=detail), *others]
    if report.unchanged:
        detail = f"unchanged: {report.unchanged} article(s) already indexed with the same content"
        return [UploadResult(file=url, result="skipped", detail=detail), *others]
    return [UploadResult(file=url, result="skipped", detail="no articles found there"), *others]
