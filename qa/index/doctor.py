"""`qa doctor`: check that an index's catalog, chunks and vector index agree; repair it from the catalog.

The catalog holds every article's full text and where it came from, so it is the index's source of truth: a
repair chunks and embeds every article again into fresh collections and swaps them in place of the old ones (the
old ones are renamed aside first and dropped last, so a repair killed half-way leaves an index the next repair
finishes). Copying the old vectors instead would carry over what is broken: in the state two concurrent writers
leave, some vectors cannot be read at all and others may belong to another record.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from qa.index.compact import OLD_SUFFIX, drop, swap_in
from qa.index.corpus import cache_root
from qa.index.embeddings import Embedder
from qa.index.layout import ArticleRecord, collection_names
from qa.index.locking import WaitCallback
from qa.index.store import Store
from qa.ingest.documents import Article
from qa.settings import Settings

_PAGE = 500
_SHOWN = 20  # article ids listed per problem
REPAIR_SUFFIX = "-repair"  # collection prefix the repair builds under


class Problem(BaseModel):
    check: str = Field(description="The check that found it: chunks, texts, orphans, vectors or search.")
    message: str
    count: int = Field(description="How many articles, chunks or records it concerns.")
    doc_ids: list[str] = Field(default_factory=list, description=f"Up to {_SHOWN} of the articles concerned.")


class DoctorReport(BaseModel):
    """What `qa doctor` checked, what was wrong, and what the repair did."""

    index: str
    articles: int = 0
    chunks: int = 0
    checked: list[str] = Field(default_factory=list)
    problems: list[Problem] = Field(default_factory=list, description="What was wrong before any repair.")
    fixed: list[str] = Field(default_factory=list)
    remaining: list[Problem] = Field(default_factory=list, description="What is still wrong.")

    @property
    def ok(self) -> bool:
        return not self.remaining


CHECKS = [
    "every article has its chunks, as many as the catalog records",
    "every article has its text and its chunks' offsets",
    "no chunk without its article",
    "every chunk's and article's vector can be read",
    "the vector index returns only chunks the index knows",
]


class Doctor:
    """Checks one index and repairs it (settings in `__init__`, work in `run()`)."""

    def __init__(self, settings: Settings, store: Store, embedder: Embedder) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder

    def run(self, *, repair: bool = False, on_wait: WaitCallback | None = None) -> DoctorReport:
        # Under the write lock, also for a check: an ingest half-way through has chunks without their catalog records.
        with self.store.writing("repair" if repair else "check", on_wait):
            report = DoctorReport(index=self.store.location, checked=list(CHECKS))
            leftovers = self._leftovers()
            if repair and leftovers:
                report.problems += leftovers
                report.fixed += self._finish_swap()
                leftovers = []
            report.articles, report.chunks, found = self.inspect()
            report.problems += found
            report.remaining = leftovers + found
            if repair and found:
                rebuilt = self._rebuild()
                report.fixed.append(
                    f"chunked and embedded all {report.articles} articles again from the catalog's texts "
                    f"({rebuilt} chunks) into fresh collections and swapped them in; orphan chunks dropped; "
                    "retrieval cache cleared"
                )
                report.articles, report.chunks, report.remaining = self.inspect()
            return report

    # --- checking -------------------------------------------------------------------------------------

    def inspect(self) -> tuple[int, int, list[Problem]]:
        """(articles, chunks, problems) of the index as it is now."""
        records = self.store.articles()
        expected = {r.doc_id: r.chunks for r in records}
        chunk_ids, doc_of = self._chunk_ids()
        problems: list[Problem] = []

        per_article = Counter(doc_of.values())
        short = sorted(
            doc_id
            for doc_id, n in expected.items()
            if per_article.get(doc_id, 0) != n or any(f"{doc_id}:{i}" not in doc_of for i in range(n))
        )
        problems += _problem("chunks", short, "articles do not have the chunks the catalog records for them")
        texts = self.store.article_texts(list(expected))
        textless = sorted(d for d, n in expected.items() if d not in texts or len(texts[d][1]) != n)
        problems += _problem("texts", textless, "articles have no stored text with their chunks' offsets")
        orphans = [chunk_id for chunk_id, doc_id in doc_of.items() if doc_id not in expected]
        problems += _problem("orphans", orphans, "chunks belong to no article of the catalog", doc_of)
        unreadable = _unreadable(self.store.chunks, chunk_ids)
        problems += _problem("vectors", unreadable, "chunks have no vector that can be read", doc_of)
        lost = _unreadable(self.store.catalog, list(expected))
        problems += _problem(
            "vectors", lost, "catalog records have no vector that can be read (updating them would fail)"
        )
        if chunk_ids and (error := _search_fails(self.store.chunks, len(chunk_ids), self.embedder.dimension)):
            problems.append(
                Problem(
                    check="search",
                    message=f"a search over every chunk fails ({error}): the vector index holds entries the index "
                    "does not know",
                    count=1,
                )
            )
        return len(records), len(chunk_ids), problems

    def _chunk_ids(self) -> tuple[list[str], dict[str, str]]:
        ids: list[str] = []
        doc_of: dict[str, str] = {}
        offset = 0
        while True:
            page = self.store.chunks.get(include=["metadatas"], limit=5000, offset=offset)
            for chunk_id, meta in zip(page["ids"], page["metadatas"]):
                ids.append(chunk_id)
                doc_of[chunk_id] = str((meta or {}).get("doc_id", ""))
            if len(page["ids"]) < 5000:
                return ids, doc_of
            offset += 5000

    # --- repairing ------------------------------------------------------------------------------------

    def _rebuild(self) -> int:
        """Every article of the catalog chunked and embedded again into fresh collections, then swapped in."""
        from qa.ingest.run import Ingestor

        repaired = Store(
            self.settings.model_copy(update={"collection": self.settings.collection + REPAIR_SUFFIX}),
            self.store.embedding_model,
        )
        _drop(repaired)  # what an interrupted repair left
        chunks = Ingestor(repaired.settings, repaired, self.embedder).restore(self._stored_articles())
        self._swap(repaired)
        shutil.rmtree(cache_root(self.settings) / f"bm25-{self.settings.collection}", ignore_errors=True)
        return chunks

    def _stored_articles(self) -> Iterator[tuple[Article, ArticleRecord]]:
        records = self.store.articles()
        for start in range(0, len(records), _PAGE):
            page = records[start : start + _PAGE]
            texts = self.store.article_texts([r.doc_id for r in page])
            for record in page:
                text = texts[record.doc_id][0] if record.doc_id in texts else ""
                article = Article(
                    doc_id=record.doc_id,
                    file=record.file,
                    key=record.key,
                    source=record.source,
                    title=record.title,
                    date=record.date,
                    text=text,
                )
                yield article, record

    def _swap(self, repaired: Store) -> None:
        """The repaired collections take the index's names; the old ones are renamed aside first, dropped last."""
        store = self.store
        repaired.catalog.modify(metadata={"revision": store.revision() + 1})
        swap_in(store.client, self._names(), collection_names(repaired.settings.collection))
        repaired.close()
        store.close()

    def _leftovers(self) -> list[Problem]:
        """Collections a repair killed half-way left renamed aside."""
        names = {_name(c) for c in self.store.client.list_collections()}
        return [
            Problem(
                check="repair",
                message=f"an interrupted repair, compaction or migration left the collection {name}{OLD_SUFFIX}",
                count=1,
            )
            for name in self._names()
            if name + OLD_SUFFIX in names
        ]

    def _finish_swap(self) -> list[str]:
        """Put right what a repair killed half-way through its swap left: the old collection renamed aside is dropped
        when the new one took its place, and put back when it did not."""
        client = self.store.client
        names = {_name(c) for c in client.list_collections()}
        done: list[str] = []
        for name in self._names():
            old = name + OLD_SUFFIX
            if old not in names:
                continue
            if name in names and (_count(client, name) > 0 or _count(client, old) == 0):
                client.delete_collection(old)
                done.append(f"dropped {old}, left by an interrupted repair")
                continue
            if name in names:
                client.delete_collection(name)
            client.get_collection(old, embedding_function=None).modify(name=name)
            done.append(f"put {old} back as {name}: a repair had been interrupted")
        self.store.close()
        return done

    def _names(self) -> list[str]:
        return collection_names(self.settings.collection)


def _name(collection: Any) -> str:
    return str(getattr(collection, "name", collection))


def _count(client: Any, name: str) -> int:
    return int(client.get_collection(name, embedding_function=None).count())


def _drop(store: Store) -> None:
    """Drop a store's collections, if they exist."""
    drop(store.client, collection_names(store.settings.collection))
    store.close()


def _problem(check: str, found: Sequence[str], what: str, doc_of: dict[str, str] | None = None) -> list[Problem]:
    """One problem for what a check found (none when it found nothing), naming a few of the articles concerned;
    `doc_of` maps chunk ids found to their articles."""
    if not found:
        return []
    owners = sorted({doc_of[c] for c in found} if doc_of is not None else set(found))
    return [Problem(check=check, message=f"{len(found)} {what}", count=len(found), doc_ids=owners[:_SHOWN])]


def _unreadable(collection: Any, ids: Sequence[str]) -> list[str]:
    """The ids whose vectors cannot be read: pages are read whole, and a page that fails is halved until the
    records that fail are found (Chroma fails the whole read for one bad record)."""
    bad: list[str] = []
    pages = [list(ids[start : start + _PAGE]) for start in range(0, len(ids), _PAGE)]
    while pages:
        page = pages.pop()
        try:
            got = collection.get(ids=page, include=["embeddings"])
        except Exception:
            if len(page) == 1:
                bad += page
            else:
                middle = len(page) // 2
                pages += [page[:middle], page[middle:]]
            continue
        returned = set(got["ids"])
        embeddings = got["embeddings"]
        missing = [i for i in page if i not in returned]
        empty = [i for i, e in zip(got["ids"], embeddings if embeddings is not None else []) if e is None or not len(e)]
        bad += missing + empty
    return bad


def _search_fails(collection: Any, count: int, dimension: int) -> str | None:
    """The error of a search asking for every chunk, None when it works: it walks every entry of the vector index,
    and one the index does not know is Chroma's "Error finding id"."""
    probe = np.full(dimension, dimension**-0.5, dtype=np.float32)
    try:
        collection.query(query_embeddings=[probe.tolist()], n_results=count, include=["distances"])
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
