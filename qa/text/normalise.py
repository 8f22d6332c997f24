"""One canonical form for article text, before anything reads it.

Text from the web carries characters a reader never sees: zero-width spaces and joiners, bidi controls, soft
hyphens, stray control bytes, and compatibility forms (full-width digits, ligatures) that look like plain
letters. Every check that reads text (is this sentence an instruction? which numbers and names does it state?)
must see what a person sees, so text is normalised once, here: Unicode NFKC, then every invisible formatting
character and every control character except line breaks and tabs removed.
"""

from __future__ import annotations

import unicodedata

import regex

# Category Cf ("format": zero-width space/joiners, word joiner, BOM, bidi embeddings and isolates, soft
# hyphen, invisible operators, tag characters) and Cc ("control") except \t and \n; \r is turned into \n first.
# The `regex` module knows Unicode categories, which `re` does not.
_INVISIBLE = regex.compile(r"[[\p{Cf}\p{Cc}]--[\t\n]]", flags=regex.V1)


def clean_text(text: str) -> str:
    """`text` in NFKC with invisible formatting and control characters removed; line breaks become \\n."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    cleaned: str = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    return cleaned


def is_blank(text: str) -> bool:
    """True when nothing visible is left: white space, zero-width characters and control bytes only."""
    return not clean_text(text).strip()
