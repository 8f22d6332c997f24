"""Text of an HTML page that a reader never sees, removed before the page becomes an article.

A page can carry text meant only for machines: instructions to an AI in a `display:none` block, in white
letters, at font size 0. None of it is the article, so none of it is indexed. Removed: elements with the
`hidden` attribute or `aria-hidden="true"`; elements whose inline style, or a rule of the page's own `<style>`
blocks (outside `@media` and other conditional blocks), sets `display:none`, `visibility:hidden|collapse`,
`font-size:0`, `opacity:0`, or a white or transparent text colour; `<font color="white">`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bs4 import BeautifulSoup, Tag
from soupsieve import SelectorSyntaxError

_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_ZERO = r"[+]?0*(?:\.0*)?"
_INVISIBLE = {
    "display": re.compile(r"none"),
    "visibility": re.compile(r"hidden|collapse"),
    "font-size": re.compile(rf"{_ZERO}(?:px|em|rem|pt|pc|ex|ch|vw|vh|%)?"),
    "opacity": re.compile(rf"{_ZERO}%?"),
    "color": re.compile(
        r"white|transparent|#f{3}|#f{4}|#f{6}|#f{8}"
        r"|rgba?\(\s*255\s*,\s*255\s*,\s*255\s*(?:,\s*[\d.]+%?\s*)?\)"
        r"|rgba?\(\s*255\s+255\s+255\s*(?:/\s*[\d.]+%?\s*)?\)"
        rf"|rgba?\([^)]*,\s*{_ZERO}\s*\)"
        r"|hsla?\(\s*[\d.]+(?:deg)?\s*,\s*[\d.]+%\s*,\s*100%\s*(?:,\s*[\d.]+%?\s*)?\)"
    ),
}


def hides(style: str) -> bool:
    """True when a CSS declaration block makes its element's text invisible."""
    for declaration in _COMMENT.sub("", style).split(";"):
        name, colon, value = declaration.partition(":")
        if not colon:
            continue
        pattern = _INVISIBLE.get(name.strip().lower())
        value = value.lower().replace("!important", "").strip()
        if pattern is not None and pattern.fullmatch(value):
            return True
    return False


def _rules(css: str) -> Iterator[tuple[str, str]]:
    """(selector, declarations) of the top-level rules of a style sheet; @media and other @-blocks skipped,
    since what they hide depends on the screen (a page often hides its mobile copy of a headline on desktop)."""
    css = _COMMENT.sub("", css)
    depth, start, selector = 0, 0, ""
    for i, char in enumerate(css):
        if char == "{":
            if depth == 0:
                selector, start = css[:i].rsplit("}", 1)[-1].strip(), i + 1
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0 and selector and not selector.startswith("@"):
                yield selector, css[start:i]


def _hidden_by_sheets(soup: BeautifulSoup) -> list[Tag]:
    found: list[Tag] = []
    for sheet in soup.find_all("style"):
        for selectors, declarations in _rules(sheet.get_text()):
            if not hides(declarations):
                continue
            for selector in selectors.split(","):
                selector = selector.strip()
                if not selector or ":" in selector:  # :hover, ::before: not what the page shows as it loads
                    continue
                try:
                    found.extend(soup.select(selector))
                except SelectorSyntaxError:  # a selector soupsieve does not know: the browser may not either
                    continue
    return found


def _is_hidden(tag: Tag) -> bool:
    if tag.has_attr("hidden") or str(tag.get("aria-hidden", "")).strip().lower() == "true":
        return True
    if tag.name == "font" and hides(f"color:{tag.get('color', '')}"):
        return True
    return hides(str(tag.get("style", "")))


def drop_hidden(soup: BeautifulSoup) -> int:
    """Remove every element a reader of the page would not see; returns how many were removed."""
    doomed = _hidden_by_sheets(soup) + [tag for tag in soup.find_all(True) if _is_hidden(tag)]
    removed = 0
    for tag in doomed:
        if tag.decomposed:
            continue  # inside an element removed already
        tag.decompose()
        removed += 1
    return removed
