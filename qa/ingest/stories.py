"""One story, told once: near-duplicate articles (wire copies, lightly edited reprints) share a story id.

An article's text becomes a MinHash signature (datasketch) of its 5-word shingles. Locality-sensitive hashing cuts
the signature into bands (the band count and width are datasketch's optimum for LSH_THRESHOLD); an article's band
keys are stored in its catalog record, band n under the key `lsh<n>`, so the articles that share a band with a batch
of new ones are found by one filtered read of the catalog (`{"$or": [{"lsh0": {"$in": keys}}, ...]}`), never by
reading the catalog whole. (A string list with `$contains` per key was tried first: an `$or` of one `$contains` per
band and article took ~1 s per batch at 20k articles, and Chroma refuses more than ~1,000 of them; a `$in` per band
field takes ~50 ms at 40k.)
A candidate joins the story when the Jaccard similarity its signature estimates reaches the threshold
(`Settings.story_threshold`, calibrated on RealTimeQA: evals/README.md).

A story's id is the doc_id of the first article it was seen in; an article alone is its own story.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import regex
from datasketch import MinHash, MinHashLSH

from qa.index.layout import BAND_KEY
from qa.index.store import Store

NUM_PERM = 128
SHINGLE_WORDS = 5
# The banding makes pairs of about this similarity and above candidates; the story threshold (a setting) is then
# checked on the signatures. Fixed, so the band keys of every stored article stay comparable whatever the setting.
# Weighted towards recall (false negatives 9 times as costly as false positives): 32 bands of 4 rows find a pair at
# Jaccard 0.5 with probability 0.87, at 0.6 with 0.99 (equal weights: 25 bands of 5 rows, 0.55 at 0.5); a false
# candidate costs only the read of its signature.
LSH_THRESHOLD = 0.5
LSH_WEIGHTS = (0.1, 0.9)
# datasketch's 32-bit permutations (its default since 2.0): the stored signatures are read back with the same scheme.
SCHEME = "affine32"
_WORD = regex.compile(r"\w+")


@dataclass(frozen=True)
class Fingerprint:
    """An article's MinHash signature and its LSH band keys."""

    minhash: MinHash
    bands: tuple[str, ...]

    def similarity(self, other: MinHash) -> float:
        return float(self.minhash.jaccard(other))

    def encoded(self) -> str:
        return encode_signature(self.minhash)


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    """The runs of `size` words of the text, lower-cased, punctuation dropped (a short text: its words as one)."""
    words = _WORD.findall(text.lower())
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


@lru_cache(maxsize=1)
def bands() -> tuple[int, int]:
    """(bands, rows per band): what datasketch finds best for LSH_THRESHOLD at NUM_PERM permutations."""
    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM, weights=LSH_WEIGHTS)
    return lsh.b, lsh.r


def band_field(band: int) -> str:
    return f"{BAND_KEY}{band}"


def fingerprint(text: str) -> Fingerprint:
    minhash = MinHash(num_perm=NUM_PERM, scheme=SCHEME)
    minhash.update_batch([s.encode("utf-8") for s in shingles(text)])
    return Fingerprint(minhash, band_keys(minhash))


def band_keys(minhash: MinHash) -> tuple[str, ...]:
    """One short key per band, a digest of its rows: two articles with the same key in one band are candidates.
    An empty text has no keys: it is nobody's duplicate."""
    if minhash.is_empty():
        return ()
    count, rows = bands()
    values = np.asarray(minhash.hashvalues, dtype="<u4")
    return tuple(
        base64.b64encode(hashlib.blake2b(values[b * rows : (b + 1) * rows].tobytes(), digest_size=8).digest())
        .decode("ascii")
        .rstrip("=")
        for b in range(count)
    )


def encode_signature(minhash: MinHash) -> str:
    """The signature as stored: its hash values as little-endian uint32, Base64 (684 characters)."""
    return base64.b64encode(np.asarray(minhash.hashvalues, dtype="<u4").tobytes()).decode("ascii")


def decode_signature(stored: str) -> MinHash | None:
    try:
        values = np.frombuffer(base64.b64decode(stored), dtype="<u4").astype(np.uint32)
    except ValueError:
        return None
    if len(values) != NUM_PERM:
        return None
    return MinHash(num_perm=NUM_PERM, hashvalues=values, scheme=SCHEME)


def similarity(a: str, b: str) -> float:
    """The estimated Jaccard similarity of two texts' shingles (what the benchmark uses to call passages copies)."""
    first, second = MinHash(num_perm=NUM_PERM, scheme=SCHEME), MinHash(num_perm=NUM_PERM, scheme=SCHEME)
    first.update_batch([s.encode("utf-8") for s in shingles(a)])
    second.update_batch([s.encode("utf-8") for s in shingles(b)])
    if first.is_empty() or second.is_empty():
        return 0.0
    return float(first.jaccard(second))


def best_match(
    own: Fingerprint, candidates: Sequence[tuple[str, MinHash]], threshold: float
) -> tuple[str, float] | None:
    """The candidate (its story id) whose signature is most similar to `own`, when it reaches the threshold."""
    best: tuple[str, float] | None = None
    for story, signature in candidates:
        score = own.similarity(signature)
        if score >= threshold and (best is None or score > best[1]):
            best = (story, score)
    return best


def is_web(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def newer_version(new_title: str, new_date: str | None, old_title: str, old_date: str | None) -> bool:
    """Whether an article replaces a stored one with the same URL: it is dated later, or it is the same article
    (same title) on the same day or undated. Two records of one URL with different titles and no later date are two
    articles (a JSON lines file may list several pieces under one address), and both stay."""
    if new_date and old_date and new_date != old_date:
        return new_date > old_date
    return " ".join(new_title.split()).casefold() == " ".join(old_title.split()).casefold()


@dataclass(frozen=True)
class Told:
    """The story an article joins, and what is stored for finding its later copies."""

    story: str
    copy: bool
    bands: tuple[str, ...]
    signature: str


@dataclass(frozen=True)
class Arriving:
    """What story detection reads of an article about to be written."""

    doc_id: str
    file: str
    source: str
    title: str
    date: str | None
    text: str


def _shares_band(a: Sequence[str], b: Sequence[str]) -> bool:
    return any(x == y for x, y in zip(a, b))


def tell(store: Store, arriving: Sequence[Arriving], threshold: float) -> tuple[list[Told], list[str]]:
    """The story of each arriving article (in order: a later one may join an earlier one's), and the stored articles
    they replace (an older version at the same URL, see `newer_version`). Two reads of the store whatever its size:
    the candidates sharing a band or a URL, then their signatures."""
    prints = [fingerprint(a.text) for a in arriving]
    own = {a.doc_id for a in arriving}
    web = [a.source for a in arriving if is_web(a.source)]
    stored = [r for r in store.story_candidates([p.bands for p in prints], web) if r.doc_id not in own]
    signatures = {
        doc_id: signature
        for doc_id, encoded in store.signatures([r.doc_id for r in stored if r.bands]).items()
        if (signature := decode_signature(encoded)) is not None
    }
    told: list[Told] = []
    replaced: dict[str, None] = {}
    for n, (article, mine) in enumerate(zip(arriving, prints)):
        if is_web(article.source):
            for r in stored:
                same_url = r.source == article.source and r.file != article.file
                if same_url and newer_version(article.title, article.date, r.title, r.date):
                    replaced[r.doc_id] = None
        candidates = [
            (r.story, signatures[r.doc_id])
            for r in stored
            if r.doc_id in signatures and _shares_band(r.bands, mine.bands)
        ]
        candidates += [
            (told[m].story, prints[m].minhash) for m in range(n) if _shares_band(prints[m].bands, mine.bands)
        ]
        match = best_match(mine, candidates, threshold)
        story = match[0] if match else article.doc_id
        told.append(Told(story, story != article.doc_id, mine.bands, mine.encoded()))
    return told, list(replaced)
