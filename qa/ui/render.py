"""Answers as HTML: the answer with linked [n] markers, and one source card per cited passage.

Pure functions of an `Answer`, so they are tested without a browser. Everything that comes from an article
or a model is escaped here: an article holding `<script>` shows it as text.
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

from qa import Answer, ArticleRecord, Citation, Passage
from qa.chunks import Elsewhere

_MARKER = re.compile(r"\[(\d+)\]")
RELATED_SHOWN = 3


def source_id(turn: int, n: int) -> str:
    """The element id of a source card: unique per answer, so older answers keep their links."""
    return f"qa-src-{turn}-{n}"


def highlight(passage: str, start: int, end: int, inner: tuple[int, int] | None = None) -> str:
    """The passage escaped, with [start, end) wrapped in <mark>; no mark when the span is not inside it. An
    `inner` span inside the mark (the short answer inside the quote) is also wrapped in <strong>."""
    if not 0 <= start < end <= len(passage):
        return escape(passage)
    marked = escape(passage[start:end])
    if inner is not None and start <= inner[0] < inner[1] <= end:
        a, b = inner[0] - start, inner[1] - start
        quote = passage[start:end]
        marked = f'{escape(quote[:a])}<strong class="qa-short-in">{escape(quote[a:b])}</strong>{escape(quote[b:])}'
    return f"{escape(passage[:start])}<mark>{marked}</mark>{escape(passage[end:])}"


def quote_span(citation: Citation, passage: Passage | None) -> tuple[int, int] | None:
    """Where the citation's quote lies in its passage text (its offsets are in the article body)."""
    if passage is not None:
        start = citation.quote_start - passage.start
        end = citation.quote_end - passage.start
        if 0 <= start < end <= len(citation.text) and citation.text[start:end] == citation.quote:
            return start, end
    if citation.quote:
        found = citation.text.find(citation.quote)
        if found >= 0:
            return found, found + len(citation.quote)
    return None


def link_markers(text: str, turn: int, citations: list[Citation]) -> str:
    """Escape answer text and turn each known [n] into a link to its source card, the quote on hover."""
    quotes = {c.n: c for c in citations}
    out, last = [], 0
    for match in _MARKER.finditer(text):
        out.append(escape(text[last : match.start()]))
        n = int(match[1])
        citation = quotes.get(n)
        if citation is None:
            out.append(escape(match[0]))
        else:
            hover = escape(f"{citation.title}: “{citation.quote}”", quote=True)
            out.append(f'<a class="qa-cite" href="#{source_id(turn, n)}" title="{hover}">[{n}]</a>')
        last = match.end()
    out.append(escape(text[last:]))
    return "".join(out)


def _source_name(source: str) -> str:
    if "://" in source:
        return source
    return Path(source).name or source


def answer_html(answer: Answer, turn: int) -> str:
    """The chat message for an answer: text with linked markers, removed sentences, conflicts, refusal."""
    parts: list[str] = []
    if answer.standalone_question:
        parts.append(f'<div class="qa-rewritten">Searched for: “{escape(answer.standalone_question)}”</div>')
    if answer.refused:
        parts.append(f'<div class="qa-refusal"><strong>Refused:</strong> {escape(answer.answer)}</div>')
        related = answer.passages[:RELATED_SHOWN]
        if related:
            items = "".join(
                f'<li><a class="qa-cite" href="#{source_id(turn, p.n)}">{escape(p.title)}</a> '
                f"({escape(p.date or 'undated')}, score {p.score:.2f})</li>"
                for p in related
            )
            parts.append(f'<div class="qa-related">Related passages, which do not answer it:<ul>{items}</ul></div>')
    else:
        text, short = answer.answer, answer.short_answer
        lead = f"{short.text} [{short.n}]. " if short else ""
        if short and text.startswith(lead):
            # The short answer first, in bold; the sentence that states it below.
            marker = link_markers(f"[{short.n}]", turn, answer.citations)
            parts.append(f'<div class="qa-short"><strong>{escape(short.text)}</strong> {marker}</div>')
            text = text[len(lead) :]
        parts.append(f'<div class="qa-answer">{link_markers(text, turn, answer.citations)}</div>')
        if answer.mode == "extract" and answer.backend != "none":
            parts.append(
                '<div class="qa-note">Quoted from the articles: the model\'s own sentences were not verified.</div>'
            )
    if answer.removed:
        items = "".join(
            f"<li><del>{escape(s.text)}</del> "
            f'<span class="qa-reason">removed: {escape(s.reason or "unsupported")}</span></li>'
            for s in answer.removed
        )
        parts.append(f'<div class="qa-removed">Removed as unsupported by the cited passages:<ul>{items}</ul></div>')
    for conflict in answer.conflicts:
        boxes = "".join(
            f'<div class="qa-conflict-value"><strong>{escape(v.value)}</strong> '
            f'<a class="qa-cite" href="#{source_id(turn, v.n)}">[{v.n}]</a><br>'
            f"{escape(v.date or 'undated')} · {escape(_source_name(v.source))}</div>"
            for v in conflict.values
        )
        parts.append(
            f'<div class="qa-conflict">The articles disagree on this {escape(conflict.about)}:'
            f'<div class="qa-conflict-row">{boxes}</div></div>'
        )
    t = answer.timings_ms
    by = "evidence quoted, no model" if answer.backend == "none" else f"{answer.backend} · {answer.model}"
    parts.append(f'<div class="qa-meta">{escape(by)} · {escape(answer.mode)} · {t.total / 1000:.1f} s</div>')
    return "".join(parts)


def also_in_html(others: tuple[Elsewhere, ...]) -> str:
    """ "also in N other articles", each with its source and date: the near-duplicate copies of a story."""
    if not others:
        return ""
    items = "".join(
        f'<li><span title="{escape(o.source, quote=True)}">{escape(_source_name(o.source))}</span> '
        f"({escape(o.date or 'undated')}){' · ' + escape(o.title) if o.title else ''}</li>"
        for o in others
    )
    label = "other article" if len(others) == 1 else "other articles"
    return f'<details class="qa-also-in"><summary>also in {len(others)} {label}</summary><ul>{items}</ul></details>'


def _card(
    turn: int,
    n: int,
    title: str,
    date: str | None,
    source: str,
    body: str,
    score: float,
    kind: str,
    others: tuple[Elsewhere, ...] = (),
) -> str:
    return (
        f'<div class="qa-card qa-card-{kind}" id="{source_id(turn, n)}">'
        f'<div class="qa-card-head"><span class="qa-card-n">[{n}]</span> <strong>{escape(title)}</strong></div>'
        f'<div class="qa-card-meta">{escape(date or "undated")} · <span title="{escape(source, quote=True)}">'
        f"{escape(_source_name(source))}</span> · score {score:.2f}</div>"
        f"{also_in_html(others)}"
        f'<div class="qa-card-text">{body}</div></div>'
    )


def _short_in(answer: Answer, n: int, passage: Passage | None) -> tuple[int, int] | None:
    """Where the short answer lies in passage [n]'s text, when it is in that passage."""
    short = answer.short_answer
    if short is None or short.n != n or passage is None or short.start is None or short.end is None:
        return None
    return short.start - passage.start, short.end - passage.start


def sources_html(answer: Answer, turn: int) -> str:
    """The source cards of one answer: cited passages with the quote highlighted, or for a refusal the
    related passages that were found."""
    by_n = {p.n: p for p in answer.passages}
    head = f'<div class="qa-sources-q">Q{turn}: {escape(answer.question)}</div>'
    if answer.standalone_question:
        head += f'<div class="qa-rewritten">searched for: {escape(answer.standalone_question)}</div>'
    cards = []
    if answer.citations:
        for c in answer.citations:
            passage = by_n.get(c.n)
            span = quote_span(c, passage)
            body = highlight(c.text, *span, _short_in(answer, c.n, passage)) if span else escape(c.text)
            others = tuple(Elsewhere(o.doc_id, o.title, o.source, o.date) for o in c.also_in)
            cards.append(_card(turn, c.n, c.title, c.date, c.source, body, c.score, "cited", others))
    else:
        for p in answer.passages[:RELATED_SHOWN] if answer.refused else []:
            cards.append(_card(turn, p.n, p.title, p.date, p.source, escape(p.text), p.score, "related", p.also_in))
        if answer.refused and cards:
            head += '<div class="qa-note">Related passages: none of them answers the question.</div>'
    if not cards:
        cards.append('<div class="qa-note">No passages.</div>')
    return f'<section class="qa-sources-turn">{head}{"".join(cards)}</section>'


def draft_html(text: str) -> str:
    """Text still arriving (model tokens or the answer revealed word by word), escaped."""
    return f'<div class="qa-answer qa-draft">{escape(text)}<span class="qa-cursor">▌</span></div>'


def error_html(message: str) -> str:
    return f'<div class="qa-error"><strong>Error:</strong> {escape(message)}</div>'


def backend_html(backend: str, model: str, mode: str, note: str | None) -> str:
    """The indicator of which model answers, with the one-line reason for a fallback."""
    line = (
        f'<div class="qa-backend">Answering with <strong>{escape(backend)}</strong> · {escape(model)} · '
        f"mode {escape(mode)}</div>"
    )
    if note:
        line += f'<div class="qa-note">{escape(note)}</div>'
    return line


def article_rows(records: list[ArticleRecord], query: str | None = "") -> list[list[object]]:
    """Rows of the library table (title, date, source, chunks, id), filtered by a case-insensitive query."""
    words = (query or "").lower().split()
    rows = []
    for r in records:
        haystack = f"{r.title} {r.date or 'undated'} {r.source} {r.doc_id}".lower()
        if all(w in haystack for w in words):
            rows.append([r.title, r.date or "undated", _source_name(r.source), r.chunks, r.doc_id])
    return rows


CSS = """
.qa-rewritten { font-size: 0.85em; opacity: 0.7; font-style: italic; margin-bottom: 4px; }
.qa-short { font-size: 1.2em; margin-bottom: 4px; }
.qa-short-in { text-decoration: underline; }
.qa-refusal { border-left: 4px solid #d97706; background: rgba(217,119,6,0.10); padding: 6px 10px; }
.qa-related, .qa-removed, .qa-conflict { font-size: 0.9em; margin-top: 6px; }
.qa-removed del { opacity: 0.75; }
.qa-reason { font-size: 0.85em; color: #b91c1c; }
.qa-conflict-row { display: flex; gap: 8px; margin-top: 4px; }
.qa-conflict-value { flex: 1; border: 1px solid #d1d5db; border-radius: 6px; padding: 4px 8px; }
.qa-meta, .qa-note { font-size: 0.8em; opacity: 0.7; margin-top: 4px; }
.qa-cite { text-decoration: none; font-weight: 600; }
.qa-card { border: 1px solid #d1d5db; border-radius: 8px; padding: 8px 10px; margin: 6px 0; }
.qa-card:target { outline: 3px solid #3b82f6; }
.qa-card-related { border-style: dashed; }
.qa-card-meta { font-size: 0.8em; opacity: 0.75; }
.qa-also-in { font-size: 0.8em; opacity: 0.85; }
.qa-also-in ul { margin: 2px 0 0 0; }
.qa-card-text { font-size: 0.9em; margin-top: 4px; white-space: pre-wrap; }
.qa-card-text mark { background: #fde68a; color: inherit; }
.qa-sources-q { font-weight: 600; margin-top: 10px; }
.qa-error { color: #b91c1c; }
#qa-sources { max-height: 640px; overflow-y: auto; }
"""
