"""Ingest: files → articles → chunks → embeddings → index, incrementally.

Unchanged files are recognised by their content hash and skipped without parsing; a changed file's
articles are re-indexed and their old chunks removed only after the new ones are stored, so an
interrupted run never loses what was indexed. Articles are embedded in batches that span files,
which keeps the encoder busy with full batches whatever the size of each article.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.chunks import Chunk
from qa.errors import DocumentError
from qa.index.embeddings import Embedder
from qa.index.layout import ArticleRecord, chunk_id
from qa.index.locking import WaitCallback
from qa.index.store import Store
from qa.ingest import documents
from qa.ingest.chunking import chunk_text
from qa.ingest.files import is_dir, may_exist, shown, size_on_disk, walk
from qa.ingest.reading import scan
from qa.ingest.report import FailedFile, IngestReport, LineErrors, Progress, ProgressCallback
from qa.ingest.stories import Arriving, Told, fingerprint, tell
from qa.ingest.stream import CHANGED_WHILE_READ, ArticleStream, guarded, unexpected
from qa.settings import Settings
from qa.text.injection import is_instruction, mask

# Titles longer than this many word pieces are left out of the embedded text: they would eat the
# budget of every chunk of the article.
_MAX_TITLE_TOKENS = 48


# `file_articles` of an article written while its file was still being read: the count is not known yet, and a
# run interrupted inside the file leaves this mark, so the next run reads the file again and resumes.
_READING = -1


@dataclass
class _File:
    """One file being ingested: its hash, and its article count once it has been read to the end."""

    digest: str
    total: int | None = None
    written: list[str] = field(default_factory=list)  # doc ids written before the count was known


@dataclass
class _Item:
    article: documents.Article
    source: _File
    masked: str  # the article's text with sentences that give orders to an AI blanked out: what is stored
    chunks: list[Chunk]
    texts: list[str]  # what is embedded for each chunk
    told: Told | None = None  # its story, when known before the batch is written (a restore keeps the stored one)


@dataclass
class _Batch:
    """What one flush writes: chunk vectors, then the articles' records, texts and chunk spans."""

    chunk_ids: list[str]
    vectors: np.ndarray
    records: list[ArticleRecord]
    texts: list[str]
    spans: list[list[tuple[int, int]]]
    article_vectors: list[np.ndarray]
    retired: list[str]
    signatures: list[str]


@dataclass
class _Pending:
    """Articles parsed and waiting to be embedded as one batch, and the old versions that batch retires."""

    items: list[_Item] = field(default_factory=list)
    chunk_count: int = 0
    retired: list[str] = field(default_factory=list)  # doc ids removed once the batch is stored


class Ingestor:
    """Brings an index up to date with a set of files and folders.

    Big files stream: articles are read, chunked and embedded in batches of `batch_chunks` chunks, and each batch is
    written (chunks, then catalog records in one write) before the next is read, so memory does not grow with the
    size of a file or of the corpus, and an interrupted run resumes after the last batch written.
    """

    def __init__(self, settings: Settings, store: Store, embedder: Embedder) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.batch_chunks = max(settings.embed_batch_size * 4, 64)
        self._writer: ThreadPoolExecutor  # made by each run(), which shuts it down when done
        self._writing: Future[None] | None = None

    def run(
        self,
        paths: Iterable[str | Path],
        *,
        prune: bool = True,
        on_progress: ProgressCallback | None = None,
        on_wait: WaitCallback | None = None,
    ) -> IngestReport:
        """Bring the index up to date with `paths`, holding its write lock (`on_wait` hears once of a wait for it)."""
        path_list = [Path(p).expanduser() for p in paths]
        with self.store.writing("ingest", on_wait):
            started = time.perf_counter()
            # Batches are written by one background thread while the next batch is read and embedded: Chroma's
            # writes release the GIL, and overlapping them with the encoder hid most of their cost (0.8 s of 6.2 s
            # per 1,024 chunks). One batch is in flight at most, so memory stays bounded; every store call of this
            # thread waits for it first, and an interrupted run waits for it before it stops, so a batch is written
            # whole or not at all.
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-ingest-writer")
            try:
                return self._run(path_list, IngestReport(), started, prune, on_progress)
            finally:
                self._writer.shutdown(wait=True)

    def _run(
        self,
        path_list: list[Path],
        report: IngestReport,
        started: float,
        prune: bool,
        on_progress: ProgressCallback | None,
    ) -> IngestReport:
        files = list(walk(path_list))
        # The stored articles of these files alone, not the whole catalog (seconds at 40k articles). Read under the
        # lock: a run that waited for another one compares the files with what that one wrote.
        known: dict[str, list[ArticleRecord]] = defaultdict(list)
        for record in self.store.articles_in([str(path.resolve()) for path, problem in files if not problem]):
            known[record.file].append(record)
        sizes = [size_on_disk(path) if not problem else 0 for path, problem in files]
        bytes_total = sum(sizes)
        bytes_before = 0
        seen: set[str] = set()
        pending = _Pending()
        articles_seen = 0
        for done, ((path, problem), size) in enumerate(zip(files, sizes), start=1):
            file = str(path) if problem else str(path.resolve())
            if file in seen:
                continue  # reached twice (named twice, or a link beside its target): read once
            seen.add(file)
            if problem:
                report.failed.append(FailedFile(path=shown(path), error=problem))
                continue

            def step(
                articles: int,
                position: int,
                done: int = done,
                before: int = articles_seen,
                offset: int = bytes_before,
                size: int = size,
                file: str = file,
            ) -> None:
                # Inside a big file too (a JSON lines export of thousands of articles): written batches
                # survive an interruption, and the next run resumes after them.
                if pending.chunk_count >= self.batch_chunks:
                    self._flush(pending, report)
                if on_progress:
                    on_progress(
                        Progress(
                            done - 1,
                            len(files),
                            before + articles,
                            report.chunks,
                            offset + min(position, size),
                            bytes_total,
                            time.perf_counter() - started,
                            file,
                        )
                    )

            articles_seen += self._ingest_file(path, file, known.get(file, []), pending, report, step)
            bytes_before += size
            if pending.chunk_count >= self.batch_chunks:
                self._flush(pending, report)
            if on_progress:
                seconds = time.perf_counter() - started
                on_progress(
                    Progress(done, len(files), articles_seen, report.chunks, bytes_before, bytes_total, seconds, file)
                )
        self._flush(pending, report)
        self._wait()

        if prune:
            report.removed += self._prune(path_list, seen)
        if report.changed:
            self.store.bump_revision()
        report.seconds = time.perf_counter() - started
        if on_progress:
            on_progress(
                Progress(len(files), len(files), articles_seen, report.chunks, bytes_total, bytes_total, report.seconds)
            )
        return report

    def restore(self, stored: Iterable[tuple[documents.Article, ArticleRecord]]) -> int:
        """Write articles again, chunked and embedded afresh, each with its catalog record as it was (its file hash
        and article count too, so the next ingest still finds its file unchanged); returns the chunks written.

        This is how `qa doctor --repair` rebuilds an index from its catalog, into the store this ingestor writes to.
        """
        report = IngestReport()
        pending = _Pending()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-restore-writer")
        try:
            for article, record in stored:
                item = self._item(article, _File(record.file_hash, record.file_articles))
                item.told = Told(record.story, record.copy, record.bands, fingerprint(item.masked).encoded())
                pending.items.append(item)
                pending.chunk_count += len(pending.items[-1].chunks)
                if pending.chunk_count >= self.batch_chunks:
                    self._flush(pending, report)
            self._flush(pending, report)
            self._wait()
        finally:
            self._writer.shutdown(wait=True)
        return report.chunks

    # --- one file -----------------------------------------------------------------------------

    def _ingest_file(
        self,
        path: Path,
        file: str,
        before: list[ArticleRecord],
        pending: _Pending,
        report: IngestReport,
        step: Callable[[int, int], None],
    ) -> int:
        max_bytes = int(self.settings.max_file_mb * 1_000_000)
        try:
            digest = scan(path, max_bytes)
        except DocumentError as exc:
            # The file as it was stays indexed: a bad edit must not cost what was already there.
            report.failed.append(FailedFile(path=exc.path, error=exc.reason))
            return 0
        except Exception as exc:  # a case the checks do not know yet: this file's error, not the run's
            report.failed.append(FailedFile(path=file, error=unexpected(exc)))
            return 0
        # Unchanged, and complete: a run interrupted inside this file left fewer articles than it holds.
        complete = all(r.file_articles in (0, len(before)) for r in before)
        if before and complete and all(r.file_hash == digest for r in before):
            report.unchanged += len(before)
            return len(before)

        source = _File(digest)
        stored = {record.doc_id for record in before}
        met: set[str] = set()  # doc ids met in this file: a line repeated word for word is one article
        kept: list[str] = []
        new_keys: Counter[str] = Counter()  # keys of the articles read that are not stored yet
        count = 0
        stream = ArticleStream(Path(file), max_bytes)
        bad_lines = LineErrors()
        try:
            for item in guarded(stream, file):
                if isinstance(item, DocumentError):
                    bad_lines.add(item)
                    continue
                article = item
                if article.doc_id in met:
                    continue
                met.add(article.doc_id)
                count += 1
                # An article is matched by its id (file, key and content), never by its key alone: two records of a
                # JSON lines file may share a url, and each one still in the file must stay.
                if article.doc_id in stored:
                    kept.append(article.doc_id)
                    report.unchanged += 1
                else:
                    pending.items.append(self._item(article, source))
                    if article.extractor:
                        report.extracted[article.extractor] = report.extracted.get(article.extractor, 0) + 1
                    pending.chunk_count += len(pending.items[-1].chunks)
                    new_keys[article.key] += 1
                step(count, stream.bytes_read)
        except DocumentError as exc:  # the file changed or broke between the check and the read
            report.failed += bad_lines.failures()
            report.failed.append(FailedFile(path=exc.path, error=exc.reason))
            self._count_new(before, met, new_keys, report)
            return count  # what was read is written; the file stays marked as being read, so it is read again
        report.failed += bad_lines.failures()
        self._count_new(before, met, new_keys, report)
        if stream.digest != digest:
            # Rewritten while it was read: what was read may mix two versions. It is written, but stays marked as
            # being read (no article count), so the next run reads the file again and makes the index exact.
            report.failed.append(FailedFile(path=str(path), error=CHANGED_WHILE_READ))
            return count
        source.total = count
        # Stored versions not met in the file: edited (their new version is in this batch) or gone from the file.
        stale = [record.doc_id for record in before if record.doc_id not in met]
        report.removed += len(stale) - _replaced(before, met, new_keys)
        if kept or source.written:
            self._wait()  # the batches written so far hold this file's records
            self.store.set_file_hash(kept + source.written, digest, count)
        if stale and pending.items:
            pending.retired += stale  # removed once their replacements, pending still, are stored
        elif stale:
            self._wait()
            self.store.delete_articles(stale)
            self.store.wrote()
        return count

    @staticmethod
    def _count_new(before: list[ArticleRecord], met: set[str], new_keys: Counter[str], report: IngestReport) -> None:
        """New articles count as updates of stored versions under the same key that the file no longer holds."""
        updated = _replaced(before, met, new_keys)
        report.updated += updated
        report.added += sum(new_keys.values()) - updated

    def chunk_article(self, article: documents.Article) -> tuple[list[Chunk], list[str]]:
        """The article's chunks, and the text embedded for each (the title travels with every chunk)."""
        item = self._item(article, _File(""))
        return item.chunks, item.texts

    def _item(self, article: documents.Article, source: _File) -> _Item:
        window = min(self.settings.chunk_tokens, self.embedder.max_tokens) - 2  # [CLS] and [SEP]
        title_tokens = self.embedder.count_tokens([article.title])[0] + 1
        # "How many F-16s?" matches a paragraph that never says which war it is about once it is embedded with its
        # headline; a very long title would eat the budget of every chunk, so it is left out.
        with_title = title_tokens <= _MAX_TITLE_TOKENS and not is_instruction(article.title)
        # Sentences that give orders to an AI are neither embedded nor stored in chunks, so they cannot be written
        # to be retrieved (retrieval masks them again, for indexes built before); the offsets do not move.
        masked = mask(article.text)
        chunks = chunk_text(
            masked,
            window - (title_tokens if with_title else 0),
            self.embedder.count_tokens,
            overlap=self.settings.chunk_overlap_sentences,
        )
        texts = [f"{article.title}\n{c.text}" if with_title else c.text for c in chunks]
        return _Item(article, source, masked, chunks, texts)

    # --- writing ------------------------------------------------------------------------------

    def _flush(self, pending: _Pending, report: IngestReport) -> None:
        if not pending.items:
            return
        vectors = self.embedder.embed([text for item in pending.items for text in item.texts])

        chunk_ids = []
        row = 0
        article_vectors = []
        for item in pending.items:
            article = item.article
            first = row
            for chunk in item.chunks:
                chunk_ids.append(chunk_id(article.doc_id, chunk.index))
                row += 1
            mean = vectors[first:row].mean(axis=0) if row > first else np.zeros(vectors.shape[1])
            norm = float(np.linalg.norm(mean)) or 1.0
            article_vectors.append(mean / norm)
        self._wait()  # the batch in flight may hold this one's first copies of a story
        told = self._stories(pending, report)
        records = []
        for item, story in zip(pending.items, told):
            article = item.article
            if item.source.total is None:
                item.source.written.append(article.doc_id)
            records.append(
                ArticleRecord(
                    doc_id=article.doc_id,
                    file=article.file,
                    key=article.key,
                    file_hash=item.source.digest,
                    source=article.source,
                    title=article.title,
                    date=article.date,
                    chunks=len(item.chunks),
                    chars=len(article.text),
                    file_articles=_READING if item.source.total is None else item.source.total,
                    author=article.author,
                    site=article.site,
                    story=story.story if story else "",
                    copy=story.copy if story else False,
                    bands=story.bands if story else (),
                )
            )
        # The text the chunks were cut from: masked, so what is stored is what retrieval may hand out.
        texts = [item.masked for item in pending.items]
        spans = [[(c.start, c.end) for c in item.chunks] for item in pending.items]
        signatures = [story.signature if story else "" for story in told]
        batch = _Batch(chunk_ids, vectors, records, texts, spans, article_vectors, pending.retired, signatures)
        self._writing = self._writer.submit(self._write, batch)
        report.chunks += len(chunk_ids)
        pending.items.clear()
        pending.chunk_count = 0
        pending.retired = []

    def _write(self, batch: _Batch) -> None:
        """One batch into the store: chunks first, then their catalog records, then the versions they replace."""
        # A run interrupted after writing chunks but before the catalog left orphans: clear them.
        self.store.delete_chunks_of([record.doc_id for record in batch.records])
        self.store.add_chunks(batch.chunk_ids, batch.vectors)
        self.store.add_articles(batch.records, batch.texts, batch.spans, batch.article_vectors, batch.signatures)
        self.store.delete_articles(batch.retired)
        self.store.wrote()

    def _stories(self, pending: _Pending, report: IngestReport) -> list[Told | None]:
        """The story of each pending article (None with detection off), and the older versions at the same URL that
        the batch retires (README "Articles"). Reads the store: the batch written before must be in it."""
        if not self.settings.detect_stories:
            return [item.told for item in pending.items]
        fresh = [item for item in pending.items if item.told is None]
        arriving = [
            Arriving(i.article.doc_id, i.article.file, i.article.source, i.article.title, i.article.date, i.masked)
            for i in fresh
        ]
        found, replaced = tell(self.store, arriving, self.settings.story_threshold) if arriving else ([], [])
        stories = iter(found)
        retiring = set(pending.retired)
        replaced = [doc_id for doc_id in replaced if doc_id not in retiring]
        pending.retired += replaced
        report.replaced += len(replaced)
        return [item.told if item.told is not None else next(stories) for item in pending.items]

    def _wait(self) -> None:
        """Wait for the batch being written; its error, if any, is raised here."""
        if self._writing is not None:
            writing, self._writing = self._writing, None
            writing.result()

    def _prune(self, paths: list[Path], seen: set[str]) -> int:
        """Remove articles of files that were under an ingested folder and are gone from disk."""
        folders = [str(p.resolve()) for p in paths if is_dir(p)]
        if not folders:
            return 0
        self.store.ensure_folders()
        gone: dict[str, None] = {}  # doc ids in order, once (nested folders given together list an article twice)
        for folder in folders:
            for record in self.store.articles_under(folder):
                if record.file not in seen and not may_exist(record.file):
                    gone[record.doc_id] = None
        if gone:
            self.store.delete_articles(list(gone))
            self.store.wrote()
        return len(gone)


def _replaced(before: list[ArticleRecord], met: set[str], new_keys: Counter[str]) -> int:
    """How many new articles replace a stored version: per key, the new ones paired with stored ones not met."""
    unmet = Counter(record.key for record in before if record.doc_id not in met)
    return sum(min(n, unmet[key]) for key, n in new_keys.items())
