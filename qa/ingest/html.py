"""A saved web page's article: its main text and metadata, found by trafilatura, or by our rules when it finds none.

Text a reader never sees (display:none, white on white, …) is dropped first (qa/ingest/hidden_text.py), so neither
extractor can take it into the article. trafilatura then keeps the article's body without the page's menus, cookie
banners, "related" lists, comments and footers, and reads its title, date (published, else updated), author, site
name and canonical URL; it works on the page alone and never fetches anything. When it finds no body (a page with
almost no text, an unusual layout), the rules below read the page: `og:` and `<meta>` tags, `<h1>`, `<time>`, and
the text blocks of `<article>` or `<body>` without `nav`, `aside`, `footer` and forms.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from qa.ingest.hidden_text import drop_hidden

log = logging.getLogger(__name__)

_DATE_META = ("article:published_time", "datepublished", "pubdate", "publishdate", "date", "dc.date")
BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "blockquote", "pre")


@dataclass(frozen=True)
class Page:
    title: str
    date: str | None
    source: str  # the canonical URL, else the file
    body: str
    author: str = ""
    site: str = ""
    extractor: str = "rules"  # or "trafilatura"


def read_page(file: str, html: str) -> Page:
    """The article of a saved page (`file` names it where the page gives no URL)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    drop_hidden(soup)  # text a reader never sees is no part of the article, whichever extractor reads it
    visible = str(soup)
    rules = _by_rules(file, soup)
    found = _by_trafilatura(visible)
    if found is None:
        return rules
    title = str(found.get("title") or "") or rules.title
    body = _without_title(str(found.get("text") or ""), title)
    if not body.strip():
        return rules
    return Page(
        title=title,
        date=str(found.get("date") or "") or rules.date,
        source=str(found.get("url") or "") or rules.source,
        body=body,
        author=str(found.get("author") or ""),
        site=str(found.get("sitename") or ""),
        extractor="trafilatura",
    )


def _by_trafilatura(html: str) -> dict[str, Any] | None:
    import trafilatura

    try:
        document = trafilatura.bare_extraction(
            html, with_metadata=True, include_comments=False, include_tables=True, favor_precision=True
        )
    except Exception as exc:  # a page trafilatura cannot read is read by the rules instead
        log.info("trafilatura could not read the page (%s: %s); using the rules", type(exc).__name__, exc)
        return None
    if document is None:
        return None
    found: dict[str, Any] = document.as_dict() if hasattr(document, "as_dict") else dict(document)
    return found


def _without_title(text: str, title: str) -> str:
    """trafilatura's text, paragraphs apart by a blank line, without the headline it repeats as its first line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and title and lines[0] == title.strip():
        lines = lines[1:]
    return "\n\n".join(lines)


def _by_rules(file: str, soup: Any) -> Page:
    """The page read by its tags; `soup` is changed (the parts read or not wanted are removed)."""
    for tag in soup(["script", "style", "noscript", "nav", "footer", "aside", "form", "template"]):
        tag.decompose()

    def meta(*names: str) -> str | None:
        for name in names:
            tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
            if tag and tag.get("content"):
                return str(tag["content"])
        return None

    h1 = soup.find("h1")
    title = meta("og:title") or (h1.get_text(" ", strip=True) if h1 else "")
    if not title and soup.title:
        title = soup.title.get_text(" ", strip=True)
    time_tag = soup.find("time", attrs={"datetime": True})
    date = meta(*_DATE_META) or (str(time_tag["datetime"]) if time_tag else None)
    canonical = soup.find("link", attrs={"rel": "canonical"})
    source = meta("og:url") or (str(canonical["href"]) if canonical and canonical.get("href") else file)
    author = meta("author", "article:author") or ""
    site = meta("og:site_name") or ""

    for tag in soup(["head", "title", "meta", "link"]):
        tag.decompose()  # read above; a page without a <body> must not make its <title> the article
    root = soup.find("article") or soup.body or soup
    blocks = []
    for tag in root.find_all(BLOCKS):
        if tag.find_parent(BLOCKS):
            continue  # nested block: its text is already in the parent's
        words = tag.get_text(" ", strip=True)
        if words and words != title:
            blocks.append(words)
    body = "\n\n".join(blocks) if blocks else root.get_text("\n", strip=True)
    return Page(title=title, date=date, source=source, body=body, author=author, site=site)
