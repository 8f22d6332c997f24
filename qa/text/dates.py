"""Date parsing for article metadata: pure functions, no guessing.

An article's date comes only from its metadata (a header, front matter, a JSON field, an HTML meta tag).
Dates that merely appear in the text are claims of the article, not its publication date.
"""

from __future__ import annotations

import re
from datetime import date

# The calendar's words, spelled out once for every module that reads dates in text.
MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
MONTH_ABBREVIATIONS = {
    "jan": "january",
    "feb": "february",
    "mar": "march",
    "apr": "april",
    "jun": "june",
    "jul": "july",
    "aug": "august",
    "sep": "september",
    "sept": "september",
    "oct": "october",
    "nov": "november",
    "dec": "december",
}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = {name: number for number, name in enumerate(MONTH_NAMES, start=1)} | {
    short: MONTH_NAMES.index(name) + 1 for short, name in MONTH_ABBREVIATIONS.items()
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


# A weekday not already followed by its date ("Wednesday, January 3" stays as it is).
_WEEKDAY = re.compile(r"\b(" + "|".join(d.capitalize() for d in WEEKDAYS) + r")\b(?!,?\s+(?:\d|[A-Z][a-z]+\.?\s+\d))")
_RELATIVE_DAY = re.compile(r"\b(yesterday|today)\b", re.IGNORECASE)


def long_date(day: date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def anchor(text: str, article_date: str | None) -> str:
    """Pin relative days to the calendar, from the article's own date: "on Wednesday" in an article of
    Thursday 2024-01-04 becomes "on Wednesday, January 3, 2024". Undated articles are left as they are."""
    if not article_date:
        return text
    published = date.fromisoformat(article_date)

    def weekday(match: re.Match[str]) -> str:
        # The latest such weekday on or before the article's date: news reports what has happened.
        back = (published.weekday() - WEEKDAYS.index(match[1].lower())) % 7
        return f"{match[1]}, {long_date(date.fromordinal(published.toordinal() - back))}"

    def relative(match: re.Match[str]) -> str:
        back = 1 if match[1].lower() == "yesterday" else 0
        return f"{match[1]} ({long_date(date.fromordinal(published.toordinal() - back))})"

    return _RELATIVE_DAY.sub(relative, _WEEKDAY.sub(weekday, text))


def as_stated(text: str, article_date: str | None) -> str:
    """A passage with what its date lets a reader say: the date written out, relative days pinned.

    The facts an answer may take from a passage: its words, and the calendar dates they imply.
    """
    if not article_date:
        return text
    return f"{long_date(date.fromisoformat(article_date))} ({article_date}). {anchor(text, article_date)}"
