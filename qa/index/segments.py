"""The retriever's BM25 index kept up to date piece by piece: one main segment, a few small delta segments after it,
and a mark on each chunk removed since.

Rebuilding BM25 over the whole store after every ingest took 122 s (and 6 GB) at 500k chunks for 20 new articles.
Instead, the articles that came since the main segment was built form delta segments, each scored with the word
statistics of everything indexed before it (document count, average length, each word's document frequency; see
`Background`), so its scores rank against the main segment's; removed articles' chunks are masked. The deltas are
merged into one when there are more than MAX_DELTAS, and everything is rebuilt from the store once the deltas and
the removed chunks together pass REBUILD_SHARE of the main segment, beyond which its word statistics no longer
stand for the corpus.

On disk (beside the main segment's folder, see qa/index/corpus.py): `bm25-<name>-deltas/` holds one folder per delta
segment and `manifest.json`, which names the main segment it extends, the deltas, the removed chunks and the index
fingerprint they add up to. The manifest is replaced in one rename, so a reader sees one whole state.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from qa.chunks import Elsewhere, StoredChunk
from qa.index.corpus import (
    Background,
    BM25Index,
    date_bounds,
    folder_of,
    read_segment,
    save_cached,
    write_segment,
)
from qa.index.layout import doc_id_of

log = logging.getLogger(__name__)

MAX_DELTAS = 8  # delta segments searched one after another before they are merged into one
REBUILD_SHARE = 0.1  # deltas + removed chunks, as a share of the main segment, that make a full rebuild due
REBUILD_AT_LEAST = 2_000  # chunks: below this a full rebuild costs about a second, so it is simply done


class Chunks(Sequence[StoredChunk]):
    """The chunks of several segments as one sequence, in segment order."""

    def __init__(self, segments: Sequence[BM25Index], starts: Sequence[int]) -> None:
        self._segments = segments
        self._starts = starts
        self._total = starts[-1] + len(segments[-1].ids) if segments else 0

    def __len__(self) -> int:
        return self._total

    @overload
    def __getitem__(self, n: int) -> StoredChunk: ...

    @overload
    def __getitem__(self, n: slice) -> list[StoredChunk]: ...

    def __getitem__(self, n: int | slice) -> StoredChunk | list[StoredChunk]:
        if isinstance(n, slice):
            return [self[i] for i in range(*n.indices(len(self)))]
        if n < 0:
            n += len(self)
        if not 0 <= n < len(self):
            raise IndexError(n)
        segment = int(np.searchsorted(self._starts, n, side="right")) - 1
        return self._segments[segment].chunks[n - self._starts[segment]]

    def __iter__(self) -> Iterator[StoredChunk]:
        for segment in self._segments:
            yield from segment.chunks


class Corpus:
    """What the retriever searches: the segments' chunks as one table (`chunks`, `ids`, `date_nums`, `position` of
    each live chunk) and BM25 over all of them, removed chunks left out."""

    def __init__(self, segments: list[BM25Index], dead: np.ndarray | None = None, names: list[str] | None = None):
        self.segments = segments
        self.names = names or ["main", *(f"delta-{uuid.uuid4().hex[:12]}" for _ in segments[1:])]
        self.starts = list(np.cumsum([0, *(len(s.ids) for s in segments[:-1])])) if segments else [0]
        self.ids: list[str] = [i for s in segments for i in s.ids] if len(segments) > 1 else segments[0].ids
        self.chunks: Sequence[StoredChunk] = Chunks(segments, self.starts) if len(segments) > 1 else segments[0].chunks
        self.date_nums = np.concatenate([s.date_nums for s in segments]) if len(segments) > 1 else segments[0].date_nums
        self.dead = dead if dead is not None else np.zeros(len(self.ids), dtype=bool)
        self.alive = ~self.dead if self.dead.any() else None  # None: nothing removed

    @functools.cached_property
    def position(self) -> dict[str, int]:
        alive = self.alive
        return {chunk_id: n for n, chunk_id in enumerate(self.ids) if alive is None or alive[n]}

    def live_chunks(self) -> Iterator[StoredChunk]:
        for n, chunk in enumerate(self.chunks):
            if self.alive is None or self.alive[n]:
                yield chunk

    @functools.cached_property
    def _stories(self) -> tuple[dict[str, str], dict[str, list[Elsewhere]]]:
        """Each live article's story id, and each story's live articles: read from the segments' article columns,
        so retrieval keeps one article per story without reading the catalog (two reads took ~17 ms a question at
        500k chunks)."""
        story_of: dict[str, str] = {}
        members: dict[str, list[Elsewhere]] = {}
        for segment, start in zip(self.segments, self.starts):
            articles, article_of = segment.article_columns
            if not articles:
                continue
            live: Sequence[int] | np.ndarray
            if self.alive is None:
                live = range(len(articles))
            else:  # an article lives while one of its chunks does
                chunk_alive = self.alive[start : start + len(segment.ids)]
                live = np.flatnonzero(np.bincount(article_of[chunk_alive], minlength=len(articles)))
            for n in live:
                doc_id, title, date, source, story = articles[int(n)]
                if doc_id not in story_of:
                    story_of[doc_id] = story
                    members.setdefault(story, []).append(Elsewhere(doc_id, title, source, date))
        return story_of, members

    def story_of(self, doc_id: str) -> str | None:
        """The story of a live article (None: not in this corpus)."""
        return self._stories[0].get(doc_id)

    def story_members(self, story: str) -> list[Elsewhere]:
        """The live articles of a story."""
        return self._stories[1].get(story, [])

    def live_docs(self) -> set[str]:
        alive = self.alive
        return {doc_id_of(chunk_id) for n, chunk_id in enumerate(self.ids) if alive is None or alive[n]}

    @property
    def main(self) -> BM25Index:
        return self.segments[0]

    def delta_chunks(self) -> int:
        return len(self.ids) - len(self.main.ids)

    def date_mask(self, date_from: str | None, date_to: str | None) -> np.ndarray | None:
        """Which live chunks fall in the range (None: no range). An undated chunk falls in none."""
        if not (date_from or date_to):
            return None
        low, high = date_bounds(date_from, date_to)
        inside = (self.date_nums >= low) & (self.date_nums <= high)
        return inside if self.alive is None else inside & self.alive

    def search(
        self, query: str, k: int, date_from: str | None, date_to: str | None, mask: np.ndarray | None = None
    ) -> list[str]:
        """The ids of the k chunks BM25 scores highest (above 0) among the live ones in the range or `mask`."""
        if mask is None:
            mask = self.date_mask(date_from, date_to)
        if mask is None:
            mask = self.alive
        if len(self.segments) == 1:
            return [chunk_id for chunk_id, _ in self.main.scored(query, k, mask)]
        scored: list[tuple[str, float]] = []
        for segment, start in zip(self.segments, self.starts):
            part = None if mask is None else mask[start : start + len(segment.ids)]
            if part is None or part.any():
                scored += segment.scored(query, k, part)
        scored.sort(key=lambda pair: -pair[1])  # stable: ties keep segment order
        return [chunk_id for chunk_id, _ in scored[:k]]


# --- keeping it up to date ----------------------------------------------------------------------------


def rebuild_due(main_chunks: int, changed_chunks: int) -> bool:
    return changed_chunks > max(REBUILD_AT_LEAST, REBUILD_SHARE * main_chunks)


def extended(corpus: Corpus, added: list[StoredChunk], gone: set[str]) -> Corpus | None:
    """`corpus` with the chunks of new articles as a delta segment and those of removed articles (doc ids) masked;
    None when a full rebuild is due instead."""
    dead = corpus.dead.copy()
    if gone:
        for n, chunk_id in enumerate(corpus.ids):
            if doc_id_of(chunk_id) in gone:
                dead[n] = True
    if rebuild_due(len(corpus.main.ids), corpus.delta_chunks() + len(added) + int(dead.sum())):
        return None
    segments, names = list(corpus.segments), list(corpus.names)
    if added:
        segments.append(BM25Index.build(added, Background.of(segments)))
        names.append(f"delta-{uuid.uuid4().hex[:12]}")
        dead = np.concatenate([dead, np.zeros(len(added), dtype=bool)])
    if len(segments) - 1 > MAX_DELTAS:
        main_size = len(corpus.main.ids)
        alive = ~dead[main_size:]
        kept = [chunk for n, chunk in enumerate(Chunks(segments[1:], _starts(segments[1:]))) if alive[n]]
        segments = [corpus.main, BM25Index.build(kept, Background.of([corpus.main]))]
        names = [names[0], f"delta-{uuid.uuid4().hex[:12]}"]
        dead = np.concatenate([dead[:main_size], np.zeros(len(kept), dtype=bool)])
    return Corpus(segments, dead, names)


def _starts(segments: Sequence[BM25Index]) -> list[int]:
    return [int(n) for n in np.cumsum([0, *(len(s.ids) for s in segments[:-1])])]


# --- on disk ----------------------------------------------------------------------------------------------


def _deltas_folder(root: Path, collection: str) -> Path:
    return root / f"{folder_of(collection)}-deltas"


def load(root: Path, key: dict[str, Any]) -> tuple[Corpus, dict[str, Any], dict[str, Any]] | None:
    """The saved corpus of the index `key` names (its identity and settings; any revision and count), the key it
    was saved under and its main segment's; None when there is none or it cannot be read."""
    main_folder = root / folder_of(str(key["collection"]))
    try:
        main_key = json.loads((main_folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(main_key, dict) or not same_index(main_key, key):
        return None
    try:
        segments = [read_segment(main_folder, int(main_key["chunks"]))]
        names, dead, saved_key = ["main"], None, main_key
        manifest = _manifest(root, str(key["collection"]))
        if manifest is not None and manifest.get("main") == main_key:
            deltas = _deltas_folder(root, str(key["collection"]))
            for name, count in manifest["segments"]:
                segments.append(read_segment(deltas / name, int(count)))
                names.append(str(name))
            dead = np.zeros(sum(len(s.ids) for s in segments), dtype=bool)
            dead[np.asarray(manifest["dead"], dtype=np.int64)] = True
            saved_key = manifest["key"]
        return Corpus(segments, dead, names), saved_key, main_key
    except Exception as exc:  # a truncated or tampered file: rebuild, never fail the question
        log.info("Ignoring the unreadable retrieval cache in %s (%s: %s)", root, type(exc).__name__, exc)
        return None


def same_index(saved: dict[str, Any], key: dict[str, Any]) -> bool:
    return all(saved.get(name) == value for name, value in key.items() if name not in ("revision", "chunks"))


def _manifest(root: Path, collection: str) -> dict[str, Any] | None:
    try:
        manifest = json.loads((_deltas_folder(root, collection) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def save(root: Path, key: dict[str, Any], corpus: Corpus, main_key: dict[str, Any] | None) -> bool:
    """Write what is not on disk yet: the whole corpus when its main segment is new (`main_key` None), else its new
    delta segments and a manifest naming them; False when it could not be written (the cache only saves time)."""
    collection = str(key["collection"])
    deltas = _deltas_folder(root, collection)
    if main_key is None:
        if len(corpus.segments) > 1 or corpus.alive is not None:
            return False  # its main segment could not be saved when it was built: nothing to extend on disk
        if not save_cached(root, key, corpus.main):
            return False
        shutil.rmtree(deltas, ignore_errors=True)
        return True
    try:
        deltas.mkdir(parents=True, exist_ok=True)
        for name, segment in zip(corpus.names[1:], corpus.segments[1:]):
            if not (deltas / name / "meta.json").exists():
                staging = deltas / f".{name}-{os.getpid()}"
                shutil.rmtree(staging, ignore_errors=True)
                staging.mkdir()
                write_segment(staging, {"segment": name, "chunks": len(segment.ids)}, segment)
                staging.rename(deltas / name)
        manifest = {
            "key": key,
            "main": main_key,
            "segments": [[name, len(s.ids)] for name, s in zip(corpus.names[1:], corpus.segments[1:])],
            "dead": [int(n) for n in np.flatnonzero(corpus.dead)],
        }
        written = deltas / f".manifest-{os.getpid()}.json"
        written.write_text(json.dumps(manifest), encoding="utf-8")
        os.replace(written, deltas / "manifest.json")
    except OSError as exc:
        log.info("Could not save the retrieval cache in %s (%s)", deltas, exc)
        return False
    # Segments no manifest names any more (merged away, or written by a process whose manifest lost the race).
    current = _manifest(root, collection) or {}
    named = {str(name) for name, _ in current.get("segments", [])}
    for folder in deltas.iterdir():
        if folder.is_dir() and not folder.name.startswith(".") and folder.name not in named:
            with contextlib.suppress(OSError):
                shutil.rmtree(folder)
    return True
