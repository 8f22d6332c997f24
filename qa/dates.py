"""Date parsing for article metadata: pure functions, no guessing.

An article's date comes only from its metadata (a header, front matter, a JSON field, an HTML meta tag).
Dates that merely appear in the text are claims of the article, not its publication date.
"""

from __future__ import annotations

import re
from datetime import date

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}

_ISO = re.compile(r"^\s*(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?\s*$")
_MONTH_FIRST = re.compile(r"^\s*(?:[A-Za-z]+,\s*)?([A-Za-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b")
_DAY_FIRST = re.compile(r"^\s*(?:[A-Za-z]+,\s*)?(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]+)\.?,?\s+(\d{4})\b")


def _valid(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def parse_date(value: object) -> str | None:
    """Return `YYYY-MM-DD` for a metadata date value, or None when it is not a date we can read.

    Accepts ISO dates and timestamps (`2024-01-04`, `2024-01-04 10:00:00`, `2024-01-04T10:00Z`,
    `2024/01/04`) and written dates (`January 4, 2024`, `Jan. 4, 2024`, `4 January 2024`).
    """
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()[:10]
    text = str(value).strip()
    if not text:
        return None
    if match := _ISO.match(text):
        return _valid(int(match[1]), int(match[2]), int(match[3]))
    if match := _MONTH_FIRST.match(text):
        month = MONTHS.get(match[1].lower())
        return _valid(int(match[3]), month, int(match[2])) if month else None
    if match := _DAY_FIRST.match(text):
        month = MONTHS.get(match[2].lower())
        return _valid(int(match[3]), month, int(match[1])) if month else None
    return None


def date_number(iso: str | None) -> int:
    """`2024-01-04` → 20240104, for range filters in the store; 0 means undated."""
    return int(iso.replace("-", "")) if iso else 0
