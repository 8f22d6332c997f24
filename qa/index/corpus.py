"""Every chunk of the index in memory with its BM25 index, and the on-disk copy a fresh process loads instead.

Reading 70k chunks out of Chroma and tokenising them for BM25 takes ~30 s; loading the saved copy takes well
under a second, so `qa ask` on a big archive starts answering at once. The copy lives in `<index_dir>/cache/`
(with a Chroma server, in the user's cache directory), is keyed on the index's identity and fingerprint (the
chunk collection's id, its revision and chunk count), is written to a temporary directory that is then renamed
into place (a reader never sees half of one), and is rebuilt whenever it is stale or unreadable.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import mmap
import os
import shutil
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np

from qa.chunks import StoredChunk
from qa.settings import Settings
from qa.text.dates import date_number

log = logging.getLogger(__name__)

# Bump when the files, the tokenisation or the chunk fields change. 2: article texts, compressed; 3: token totals
# (what a delta segment's scores are computed against, see qa/index/segments.py); 4: each article's story id.
CACHE_FORMAT = 4
STOPWORDS = "en"
STEMMER = "english"


# An article as the cache keeps it: (doc_id, title, date, source, story).
ArticleColumns = tuple[str, str, str | None, str, str]


class ChunkTable(Sequence[StoredChunk]):
    """The chunks of a loaded cache: small columns in memory, each article's text once, zlib-compressed, in one
    memory-mapped file, read on demand (a chunk's text is its article's text cut at its offsets)."""

    def __init__(
        self,
        ids: list[str],
        articles: list[ArticleColumns],
        article_of: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        texts: Any,
        text_ends: np.ndarray,
    ) -> None:
        self.ids = ids
        self.articles = articles
        self.article_of = article_of
        self._starts = starts
        self._ends = ends
        self._texts = texts  # bytes-like: every article's compressed UTF-8 text, one after another
        self._text_ends = text_ends  # where each article's text ends in `_texts`
        # Chunks are read article by article (a whole table when a cache is rebuilt, neighbours of a hit): the last
        # few articles' texts stay decompressed.
        self._article_text = functools.lru_cache(maxsize=32)(self._decompress)

    def _decompress(self, article: int) -> str:
        begin = int(self._text_ends[article - 1]) if article else 0
        return zlib.decompress(bytes(self._texts[begin : int(self._text_ends[article])])).decode("utf-8")

    def __len__(self) -> int:
        return len(self.ids)

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
        article = int(self.article_of[n])
        doc_id, title, date, source, story = self.articles[article]
        start, end = int(self._starts[n]), int(self._ends[n])
        return StoredChunk(
            chunk_id=self.ids[n],
            doc_id=doc_id,
            title=title,
            date=date,
            source=source,
            start=start,
            end=end,
            text=self._article_text(article)[start:end],
            story=story,
        )

    def __iter__(self) -> Iterator[StoredChunk]:
        return (self[n] for n in range(len(self)))


class BM25Index:
    """Every chunk of the store in memory with its bm25s index, rebuilt when the store's fingerprint changes.

    The retriever also takes the chunks' texts and dates from here, so a dense hit needs no round trip to
    Chroma for its text, and a date range is a mask over `date_nums` instead of a metadata scan in Chroma.
    """

    def __init__(
        self,
        chunks: Sequence[StoredChunk],
        *,
        ids: list[str] | None = None,
        date_nums: np.ndarray | None = None,
        retriever: Any = None,
        tokens: int = 0,
    ) -> None:
        import Stemmer

        self.stemmer = Stemmer.Stemmer(STEMMER)
        self.chunks = chunks
        self.ids = ids if ids is not None else [c.chunk_id for c in chunks]
        if date_nums is None:
            date_nums = np.array([date_number(c.date) for c in chunks], dtype=np.int64)
        self.date_nums = date_nums
        self.retriever = retriever
        self.tokens = tokens  # word tokens in all chunks together (a chunk's length, for BM25, is its token count)

    @functools.cached_property
    def position(self) -> dict[str, int]:
        return {chunk_id: n for n, chunk_id in enumerate(self.ids)}

    @functools.cached_property
    def article_columns(self) -> tuple[list[ArticleColumns], np.ndarray]:
        """Each article of the segment once, and for each chunk the number of its article."""
        if isinstance(self.chunks, ChunkTable):
            return self.chunks.articles, self.chunks.article_of
        return _articles_of(self.chunks)

    @classmethod
    def build(cls, chunks: list[StoredChunk], background: Background | None = None) -> BM25Index:
        """Tokenise and index the chunks (title and text), ~15 s at 70k chunks.

        With a `background`, the chunks are scored as if they were indexed together with the chunks it describes
        (a delta segment, see qa/index/segments.py)."""
        index = cls(chunks)
        if chunks:
            import bm25s

            texts = [f"{c.title}\n{c.text}" for c in chunks]
            tokens = bm25s.tokenize(texts, stopwords=STOPWORDS, stemmer=index.stemmer, show_progress=False)
            index.tokens = sum(len(ids) for ids in tokens.ids)
            index.retriever = bm25s.BM25() if background is None else _scored_against(background, tokens.vocab)
            index.retriever.index(tokens, show_progress=False)
        return index

    def doc_freqs(self) -> tuple[dict[str, int], np.ndarray]:
        """This segment's vocabulary and, per word id, how many of its chunks hold the word."""
        if self.retriever is None:
            return {}, np.zeros(0, dtype=np.int64)
        return self.retriever.vocab_dict, np.diff(np.asarray(self.retriever.scores["indptr"]))

    def date_mask(self, date_from: str | None, date_to: str | None) -> np.ndarray | None:
        """Which chunks fall in the range (None: no range). An undated chunk falls in none."""
        if not (date_from or date_to):
            return None
        low, high = date_bounds(date_from, date_to)
        return (self.date_nums >= low) & (self.date_nums <= high)

    def search(
        self, query: str, k: int, date_from: str | None, date_to: str | None, mask: np.ndarray | None = None
    ) -> list[str]:
        if mask is None:
            mask = self.date_mask(date_from, date_to)
        return [chunk_id for chunk_id, _ in self.scored(query, k, mask)]

    def scored(self, query: str, k: int, mask: np.ndarray | None) -> list[tuple[str, float]]:
        """The k best chunks for the query among those `mask` keeps (all: None), with their BM25 scores."""
        import bm25s

        if self.retriever is None:
            return []
        tokens = bm25s.tokenize([query], stopwords=STOPWORDS, stemmer=self.stemmer, show_progress=False)
        if not tokens.vocab:
            return []
        weights = mask.astype(np.float32) if mask is not None else None
        k = min(k, len(self.chunks))
        # n_threads=0 scores in this thread; 1 starts a thread pool per call (3-4 ms on a busy machine, per segment).
        docs, scores = self.retriever.retrieve(tokens, k=k, weight_mask=weights, show_progress=False, n_threads=0)
        return [(self.ids[int(i)], float(s)) for i, s in zip(docs[0], scores[0]) if s > 0]


@dataclass(frozen=True)
class Background:
    """The chunks a new segment is scored together with: how many, their tokens, and each word's document count."""

    docs: int
    tokens: int
    segments: tuple[tuple[dict[str, int], np.ndarray], ...]  # each segment's doc_freqs()

    @classmethod
    def of(cls, segments: Sequence[BM25Index]) -> Background:
        return cls(
            docs=sum(len(s.ids) for s in segments),
            tokens=sum(s.tokens for s in segments),
            segments=tuple(s.doc_freqs() for s in segments),
        )

    def doc_freq(self, word: str) -> int:
        total = 0
        for vocab, freqs in self.segments:
            n = vocab.get(word)
            if n is not None and n < len(freqs):
                total += int(freqs[n])
        return total


def _scored_against(background: Background, vocab: dict[str, int]) -> Any:
    """A bm25s index whose scores count `background`'s chunks in the document count, the average length and each
    word's document frequency, as if one index held both: its scores rank against the background's own.

    bm25s computes these from the indexed documents alone; `build_index_from_ids` is its documented place to
    build differently, and this one differs from bm25s's only in those three numbers (the segment tests check
    that the scores equal those of one index over everything)."""
    import bm25s
    import scipy.sparse as sp
    from bm25s import scoring

    word_of = {n: word for word, n in vocab.items()}

    class WithBackground(bm25s.BM25):  # type: ignore[misc]
        def build_index_from_ids(
            self,
            unique_token_ids: list[int],
            corpus_token_ids: list[list[int]],
            show_progress: bool = True,
            leave_progress: bool = False,
        ) -> dict[str, Any]:
            self.nonoccurrence_array = None  # only BM25L and BM25+ use one; bm25s's default (Lucene) does not
            own = scoring._calculate_doc_freqs(corpus_token_ids, unique_token_ids, show_progress=False)
            docs = background.docs + len(corpus_token_ids)
            average = (background.tokens + sum(len(ids) for ids in corpus_token_ids)) / docs
            freqs = {n: df + background.doc_freq(word_of.get(n, "")) for n, df in own.items()}
            idf = scoring._build_idf_array(freqs, docs, scoring._select_idf_scorer(self.idf_method), self.dtype)
            data, rows, columns = scoring._build_scores_and_indices_for_matrix(
                corpus_token_ids=corpus_token_ids,
                idf_array=idf,
                avg_doc_len=average,
                doc_frequencies=own,
                k1=self.k1,
                b=self.b,
                delta=self.delta,
                nonoccurrence_array=None,
                method=self.method,
                dtype=self.dtype,
                int_dtype=self.int_dtype,
                show_progress=False,
            )
            shape = (len(corpus_token_ids), len(unique_token_ids))
            matrix = sp.csc_matrix((data, (rows, columns)), shape=shape, dtype=self.dtype)
            return {"data": matrix.data, "indices": matrix.indices, "indptr": matrix.indptr, "num_docs": shape[0]}

    return WithBackground()


def date_bounds(date_from: str | None, date_to: str | None) -> tuple[int, int]:
    """date_num bounds of a range; 1 at the low end keeps undated chunks (date_num 0) out of every range."""
    return (date_number(date_from) if date_from else 1, date_number(date_to) if date_to else 99999999)


# --- the copy on disk ---------------------------------------------------------------------------------


def _articles_of(chunks: Sequence[StoredChunk]) -> tuple[list[ArticleColumns], np.ndarray]:
    articles: dict[ArticleColumns, int] = {}
    article_of = np.empty(len(chunks), dtype=np.int32)
    for n, c in enumerate(chunks):
        article_of[n] = articles.setdefault((c.doc_id, c.title, c.date, c.source, c.story or c.doc_id), len(articles))
    return list(articles), article_of


def _article_text(chunks: Sequence[StoredChunk]) -> str:
    """An article's text as far as its chunks tell: each chunk's text at its offsets, spaces in between."""
    text = [" "] * max(chunk.end for chunk in chunks)
    for chunk in chunks:
        text[chunk.start : chunk.end] = chunk.text
    return "".join(text)


def cache_root(settings: Settings) -> Path:
    """Where the retriever's cache of an index lives: in the index directory, or per server and collection in
    the user's cache directory (~/.cache/newsqa/retrieval/...) when the index is on a Chroma server."""
    if settings.chroma_url is None:
        return Path(settings.index_dir) / "cache"
    digest = hashlib.sha256(f"{settings.chroma_url}\n{settings.collection}".encode()).hexdigest()[:16]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "newsqa" / "retrieval" / digest


def cache_key(collection: str, identity: str, fingerprint: tuple[int, int]) -> dict[str, Any]:
    """What a saved copy must match to be used. `identity` (the chunk collection's id) changes on a rebuild,
    which starts the revision again from 0."""
    import bm25s

    return {
        "format": CACHE_FORMAT,
        "collection": collection,
        "identity": identity,
        "revision": fingerprint[0],
        "chunks": fingerprint[1],
        "bm25s": bm25s.__version__,
        "stopwords": STOPWORDS,
        "stemmer": STEMMER,
    }


def folder_of(collection: str) -> str:
    return f"bm25-{collection}"


def read_segment(folder: Path, count: int) -> BM25Index:
    columns = json.loads((folder / "columns.json").read_text(encoding="utf-8"))
    ids: list[str] = columns["ids"]
    articles = [(str(a[0]), str(a[1]), a[2], str(a[3]), str(a[4])) for a in columns["articles"]]
    arrays = {name: np.load(folder / f"{name}.npy", allow_pickle=False) for name in _ARRAYS}
    if len(ids) != count or any(len(arrays[a]) != count for a in _CHUNK_ARRAYS):
        raise ValueError(f"{len(ids)} chunks saved, {count} expected")
    if count and (int(arrays["article_of"].max()) >= len(articles) or len(arrays["text_ends"]) != len(articles)):
        raise ValueError("chunk table refers to a missing article")
    texts: Any = b""
    if count:
        with (folder / "texts.bin").open("rb") as f:
            texts = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        if len(texts) != int(arrays["text_ends"][-1]):
            raise ValueError("texts.bin is truncated")
    table = ChunkTable(
        ids, articles, arrays["article_of"], arrays["starts"], arrays["ends"], texts, arrays["text_ends"]
    )
    retriever = None
    if count:
        import bm25s

        retriever = bm25s.BM25.load(folder / "bm25", mmap=True, show_progress=False)
        if int(retriever.scores["num_docs"]) != count:
            raise ValueError("the BM25 index does not match the chunk table")
    return BM25Index(table, ids=ids, date_nums=arrays["date_nums"], retriever=retriever, tokens=int(columns["tokens"]))


_CHUNK_ARRAYS = ("article_of", "starts", "ends", "date_nums")
_ARRAYS = (*_CHUNK_ARRAYS, "text_ends")  # text_ends: one per article


def save_cached(root: Path, key: dict[str, Any], index: BM25Index) -> bool:
    """Write the copy atomically (a temporary directory renamed into place); False when it could not be written.

    A failure (a read-only index directory, a full disk) is logged and otherwise ignored: the cache only
    saves time.
    """
    folder = root / folder_of(str(key["collection"]))
    staging: Path | None = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=root))
        staging.chmod(0o755)  # mkdtemp's 0700 would hide the cache from other users of a shared index
        write_segment(staging, key, index)
        old = root / f".{folder.name}-old-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            folder.rename(old)  # a directory cannot be renamed over a non-empty one; readers see none meanwhile
        try:
            staging.rename(folder)
        except OSError:
            if (folder / "meta.json").exists():  # another process saved its copy in the meantime
                return False
            raise
        staging = None
        return True
    except OSError as exc:
        log.info("Could not save the retrieval cache in %s (%s)", folder, exc)
        return False
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        for stale in root.glob(f".{folder.name}-old-{os.getpid()}"):
            shutil.rmtree(stale, ignore_errors=True)


def write_segment(folder: Path, key: dict[str, Any], index: BM25Index) -> None:
    chunks = index.chunks
    articles, article_of = index.article_columns
    starts = np.empty(len(chunks), dtype=np.int64)
    ends = np.empty(len(chunks), dtype=np.int64)
    # Each article's text, put together from its chunks at their offsets (what lies between chunks is never read).
    pieces: list[list[StoredChunk]] = [[] for _ in articles]
    for n, chunk in enumerate(chunks):
        pieces[int(article_of[n])].append(chunk)
        starts[n], ends[n] = chunk.start, chunk.end
    text_ends = np.empty(len(pieces), dtype=np.int64)
    written = 0
    with (folder / "texts.bin").open("wb") as texts:
        for article, its_chunks in enumerate(pieces):
            written += texts.write(zlib.compress(_article_text(its_chunks).encode("utf-8"), 6))
            text_ends[article] = written
    arrays: dict[str, np.ndarray] = {
        "article_of": article_of,
        "starts": starts,
        "ends": ends,
        "text_ends": text_ends,
        "date_nums": index.date_nums,
    }
    for name in _ARRAYS:
        np.save(folder / f"{name}.npy", arrays[name], allow_pickle=False)
    columns = {"ids": index.ids, "articles": [list(a) for a in articles], "tokens": index.tokens}
    (folder / "columns.json").write_text(json.dumps(columns, ensure_ascii=False), encoding="utf-8")
    if index.retriever is not None:
        index.retriever.save(folder / "bm25", show_progress=False)
    # Last: a folder without its meta.json is never read.
    (folder / "meta.json").write_text(json.dumps(key), encoding="utf-8")
