"""Ingest: files → articles → chunks → embeddings → index, incrementally.

Unchanged files are recognised by their content hash and skipped without parsing; a changed file's
articles are re-indexed and their old chunks removed only after the new ones are stored, so an
interrupted run never loses what was indexed. Articles are embedded in batches that span files,
which keeps the encoder busy with full batches whatever the size of each article.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from qa import documents
from qa.chunking import Chunk, chunk_text
from qa.dates import date_number
from qa.embeddings import Embedder
from qa.errors import DocumentError
from qa.settings import Settings
from qa.store import ArticleRecord, Store

# Titles longer than this many word pieces are left out of the embedded text: they would eat the
# budget of every chunk of the article.
_MAX_TITLE_TOKENS = 48


class FailedFile(BaseModel):
    path: str
    error: str


class IngestReport(BaseModel):
    """What an ingest did, article by article."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = Field(0, description="Chunks written by this run.")
    failed: list[FailedFile] = Field(default_factory=list)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass
class Progress:
    files_done: int
    files_total: int
    articles: int
    chunks: int


ProgressCallback = Callable[[Progress], None]


@dataclass
class _Pending:
    """Articles parsed and waiting to be embedded as one batch."""

    # (article, file hash, articles in its file, chunks, doc id it replaces)
    items: list[tuple[documents.Article, str, int, list[Chunk], str | None]] = field(default_factory=list)
    chunk_count: int = 0


def walk(paths: Iterable[str | Path]) -> Iterator[tuple[Path, str | None]]:
    """Files to ingest under the given paths, with an error for paths that cannot be used."""
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                relative = file.relative_to(path)
                if any(part.startswith(".") for part in relative.parts) or not file.is_file():
                    continue
                yield file, None if documents.is_supported(file) else _unsupported(file)
        elif path.is_file():
            yield path, None if documents.is_supported(path) else _unsupported(path)
        else:
            yield path, "no such file or directory"


def _unsupported(path: Path) -> str:
    kinds = ", ".join(documents.SUPPORTED_SUFFIXES)
    return f"unsupported file type {documents.suffix_of(path) or '(none)'} (supported: {kinds})"


class Ingestor:
    """Brings an index up to date with a set of files and folders."""

    def __init__(self, settings: Settings, store: Store, embedder: Embedder) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.batch_chunks = max(settings.embed_batch_size * 4, 64)

    def run(
        self, paths: Iterable[str | Path], *, prune: bool = True, on_progress: ProgressCallback | None = None
    ) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        path_list = [Path(p).expanduser() for p in paths]
        known: dict[str, list[ArticleRecord]] = defaultdict(list)
        for record in self.store.articles():
            known[record.file].append(record)

        files = list(walk(path_list))
        seen: set[str] = set()
        pending = _Pending()
        articles_seen = 0
        for done, (path, problem) in enumerate(files, start=1):
            file = str(path.resolve()) if path.exists() else str(path)
            seen.add(file)
            if problem:
                report.failed.append(FailedFile(path=str(path), error=problem))
                continue

            def flush_full(articles_in_file: int, done: int = done, before: int = articles_seen) -> None:
                # Inside a big file too (a JSON lines export of thousands of articles): written batches
                # survive an interruption, and the next run resumes after them.
                if pending.chunk_count >= self.batch_chunks:
                    self._flush(pending, report)
                if on_progress:
                    progress = Progress(done - 1, len(files), before + articles_in_file, report.chunks)
                    on_progress(progress)

            articles_seen += self._ingest_file(path, file, known.get(file, []), pending, report, flush_full)
            if pending.chunk_count >= self.batch_chunks:
                self._flush(pending, report)
            if on_progress:
                on_progress(Progress(done, len(files), articles_seen, report.chunks + pending.chunk_count))
        self._flush(pending, report)

        if prune:
            report.removed += self._prune(path_list, known, seen)
        if report.changed:
            self.store.bump_revision()
        report.seconds = time.perf_counter() - started
        return report

    # --- one file -----------------------------------------------------------------------------

    def _ingest_file(
        self,
        path: Path,
        file: str,
        before: list[ArticleRecord],
        pending: _Pending,
        report: IngestReport,
        flush_full: Callable[[int], None],
    ) -> int:
        max_bytes = int(self.settings.max_file_mb * 1_000_000)
        try:
            data = documents.read_bytes(path, max_bytes)
            digest = documents.file_hash(data)
            # Unchanged, and complete: a run interrupted inside this file left fewer articles than it holds.
            complete = all(r.file_articles in (0, len(before)) for r in before)
            if before and complete and all(r.file_hash == digest for r in before):
                report.unchanged += len(before)
                return len(before)
            parsed = list(documents.parse(Path(file), data))
        except DocumentError as exc:
            # The file as it was stays indexed: a bad edit must not cost what was already there.
            report.failed.append(FailedFile(path=exc.path, error=exc.reason))
            return 0

        old_by_key = {r.key: r for r in before}
        kept: list[str] = []
        count = 0
        total = sum(not isinstance(item, DocumentError) for item in parsed)
        for item in parsed:
            if isinstance(item, DocumentError):
                report.failed.append(FailedFile(path=item.path, error=item.reason))
                continue
            article = item
            count += 1
            old = old_by_key.pop(article.key, None)
            if old and old.doc_id == article.doc_id:
                kept.append(old.doc_id)
                report.unchanged += 1
                continue
            chunks = self._chunk(article)
            pending.items.append((article, digest, total, chunks, old.doc_id if old else None))
            pending.chunk_count += len(chunks)
            if old:
                report.updated += 1
            else:
                report.added += 1
            flush_full(count)
        self.store.set_file_hash(kept, digest, total)
        for gone in old_by_key.values():  # articles no longer in this file
            self.store.delete_article(gone.doc_id)
            report.removed += 1
        return count

    def _chunk(self, article: documents.Article) -> list[Chunk]:
        window = min(self.settings.chunk_tokens, self.embedder.max_tokens) - 2  # [CLS] and [SEP]
        title_tokens = self.embedder.count_tokens([article.title])[0] + 1
        if title_tokens > _MAX_TITLE_TOKENS:
            title_tokens = 0
        return chunk_text(
            article.text,
            window - title_tokens,
            self.embedder.count_tokens,
            overlap=self.settings.chunk_overlap_sentences,
        )

    def _embed_text(self, article: documents.Article, chunk: Chunk) -> str:
        # The title travels with every chunk: "How many F-16s?" matches a paragraph that never says
        # which war it is about once it is embedded with its headline.
        title_tokens = self.embedder.count_tokens([article.title])[0] + 1
        if title_tokens > _MAX_TITLE_TOKENS:
            return chunk.text
        return f"{article.title}\n{chunk.text}"

    # --- writing ------------------------------------------------------------------------------

    def _flush(self, pending: _Pending, report: IngestReport) -> None:
        if not pending.items:
            return
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

        texts = [self._embed_text(a, c) for a, _, _, chunks, _ in pending.items for c in chunks]
        vectors = self.embedder.embed(texts)
        # A run interrupted after writing chunks but before the catalog left orphans: clear them.
        new_ids = [a.doc_id for a, *_ in pending.items]
        self.store.chunks.delete(where={"document_id": {"$in": new_ids}})

        nodes = []
        row = 0
        article_vectors = []
        for article, _, _, chunks, _ in pending.items:
            first = row
            for chunk in chunks:
                node = TextNode(
                    id_=f"{article.doc_id}:{chunk.index}",
                    text=chunk.text,
                    embedding=vectors[row].tolist(),
                    metadata={
                        "doc_id": article.doc_id,
                        "title": article.title,
                        "date": article.date or "",
                        "date_num": date_number(article.date),
                        "source": article.source,
                        "start": chunk.start,
                        "end": chunk.end,
                        "chunk": chunk.index,
                    },
                )
                node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=article.doc_id)
                nodes.append(node)
                row += 1
            mean = vectors[first:row].mean(axis=0) if row > first else np.zeros(vectors.shape[1])
            norm = float(np.linalg.norm(mean)) or 1.0
            article_vectors.append(mean / norm)
        self.store.add_chunks(nodes)

        for (article, digest, file_articles, chunks, replaces), vector in zip(pending.items, article_vectors):
            record = ArticleRecord(
                doc_id=article.doc_id,
                file=article.file,
                key=article.key,
                file_hash=digest,
                source=article.source,
                title=article.title,
                date=article.date,
                chunks=len(chunks),
                chars=len(article.text),
                file_articles=file_articles,
            )
            self.store.add_article(record, article.text, vector)
            if replaces and replaces != article.doc_id:
                self.store.delete_article(replaces)
        report.chunks += len(nodes)
        pending.items.clear()
        pending.chunk_count = 0

    def _prune(self, paths: list[Path], known: dict[str, list[ArticleRecord]], seen: set[str]) -> int:
        """Remove articles of files that were under an ingested folder and are gone from disk."""
        folders = [str(p.resolve()) + os.sep for p in paths if p.is_dir()]
        removed = 0
        for file, records in known.items():
            if file in seen or not any(file.startswith(folder) for folder in folders):
                continue
            if Path(file).exists():
                continue
            for record in records:
                self.store.delete_article(record.doc_id)
                removed += 1
        return removed
