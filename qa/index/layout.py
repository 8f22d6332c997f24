"""The index's layout in Chroma: its collections, an article's catalog record, and how an article's text and its
chunk offsets are kept (once per article, compressed).

A chunk in Chroma is its vector and its article's id, nothing more: its text is `text[start:end]` of its article,
whose (masked) text and chunk spans sit in one record of the `<name>_texts` collection. Storing the text once, as a
metadata value rather than a Chroma document, keeps it out of Chroma's full-text index, which the assistant never
queries (its BM25 is its own) and which cost more than the text itself.

Any Chroma client can read it back: `text` is the article's UTF-8 text, zlib-compressed, then Base85-encoded
(`zlib.decompress(base64.b85decode(text))`), and `spans` lists each chunk's `start-end` offsets, separated by
spaces, in chunk order (chunk `n` of article `doc_id` has the id `doc_id:n`).
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import PurePath
from typing import Any

from qa.chunks import StoredChunk

# 2: chunks hold only their vector and doc_id; texts and offsets once per article in `<name>_texts`.
# 1: every chunk's text as a Chroma document, with llama-index's node JSON; the article text in the catalog.
SCHEMA_VERSION = 2
COLLECTIONS = ("chunks", "catalog", "texts")


def collection_names(prefix: str) -> list[str]:
    return [f"{prefix}_{name}" for name in COLLECTIONS]


# Chroma's write log (the `embeddings_queue` table of its SQLite file) keeps each record written, vector and metadata,
# until the collection's vector index is next saved, which it does every `sync_threshold` records written (1,000 by
# default). A texts record carries its article's compressed text, so with the default an index of fewer than 1,000
# articles kept every text twice, and any index up to 999 of them (issue 15: ~550 B a chunk at 150 articles).
# Catalog and texts get one small record per article, so their indexes are saved every 100 records. The chunks keep
# the default: saving their vector index costs what the index holds.
SMALL_SYNC_THRESHOLD = 100


def vector_index_configuration(collection: str, space: str | None = None) -> dict[str, Any]:
    """The Chroma configuration a collection of this layout is created with (`collection` is its full name or
    its kind; `space` overrides the distance, for a copy of an existing collection)."""
    kind = collection.rpartition("_")[2]
    hnsw: dict[str, Any] = {"space": space or ("l2" if kind == "texts" else "cosine")}
    if kind in ("catalog", "texts"):
        hnsw["sync_threshold"] = SMALL_SYNC_THRESHOLD
    return {"hnsw": hnsw}


def keep_write_log_short(collection: Any) -> None:
    """Give a catalog or texts collection created before SMALL_SYNC_THRESHOLD its threshold (a setting Chroma lets
    change after creation); its log shrinks at the next saves."""
    hnsw = (getattr(collection, "configuration_json", None) or {}).get("hnsw") or {}
    if hnsw.get("sync_threshold", SMALL_SYNC_THRESHOLD) > SMALL_SYNC_THRESHOLD:
        collection.modify(configuration={"hnsw": {"sync_threshold": SMALL_SYNC_THRESHOLD}})


@dataclass(frozen=True)
class ArticleRecord:
    doc_id: str
    file: str
    key: str
    file_hash: str
    source: str
    title: str
    date: str | None
    chunks: int
    chars: int
    file_articles: int = 0  # articles in the whole file when it was read; 0 in indexes older than this field
    author: str = ""  # of an HTML page, when it names one
    site: str = ""  # the site name of an HTML page
    # The story the article tells (qa/ingest/stories.py): the doc_id of the story's first article; an article alone,
    # or one written before stories were kept, is its own.
    story: str = ""
    copy: bool = False  # a later copy of a story whose first (or promoted) article is indexed: not counted again
    bands: tuple[str, ...] = ()  # its LSH band keys, stored as `lsh0`, `lsh1`, ... (none when detection is off)


def record_from_metadata(doc_id: str, meta: dict[str, Any]) -> ArticleRecord:
    bands: list[str] = []
    while (key := f"{BAND_KEY}{len(bands)}") in meta:
        bands.append(str(meta[key]))
    return ArticleRecord(
        doc_id=doc_id,
        file=str(meta["file"]),
        key=str(meta.get("key", "")),
        file_hash=str(meta.get("file_hash", "")),
        source=str(meta.get("source", "")),
        title=str(meta.get("title", "")),
        date=str(meta["date"]) if meta.get("date") else None,
        chunks=int(meta.get("chunks", 0)),
        chars=int(meta.get("chars", 0)),
        file_articles=int(meta.get("file_articles", 0)),
        author=str(meta.get("author", "")),
        site=str(meta.get("site", "")),
        story=str(meta.get(STORY_KEY) or doc_id),
        copy=bool(meta.get(COPY_KEY)),
        bands=tuple(bands),
    )


def catalog_metadata(record: ArticleRecord) -> dict[str, Any]:
    """A catalog record as Chroma metadata (its id is the doc_id; an undated article's date is "")."""
    meta = asdict(record)
    del meta["doc_id"]
    del meta["bands"]
    meta["date"] = record.date or ""
    meta[STORY_KEY] = record.story or record.doc_id
    if not record.copy:
        del meta[COPY_KEY]  # absent means the story's counted article, as in indexes written before stories
    meta.update((f"{BAND_KEY}{n}", key) for n, key in enumerate(record.bands))
    folders = folders_of(record.file)
    if folders:  # Chroma takes no empty list (a file named by a relative path lies in no folder we list)
        meta[FOLDERS_KEY] = folders
    return meta


# Each catalog record lists the folders its file lies in (`folders`, a string list), so an ingest of a folder finds the
# articles it may prune with one filtered read (`{"folders": {"$contains": folder}}`) instead of reading the catalog.
# Indexes written before carry no such list until an ingest adds it once (Store.ensure_folders), which it records in
# the chunk collection's metadata under FOLDERS_FLAG.
FOLDERS_KEY = "folders"
FOLDERS_FLAG = "qa_folders"


def folders_of(file: str) -> list[str]:
    """Every folder a file's path lies in, outermost first: `/a/b/c.txt` → `/`, `/a`, `/a/b`."""
    return [str(folder) for folder in reversed(PurePath(file).parents)] if PurePath(file).is_absolute() else []


# Stories (qa/ingest/stories.py): `story` is the story id, `copy` is True on the articles not counted as a story of
# their own (so the stories are counted as articles minus copies, one filtered read), `lsh<n>` the band keys.
STORY_KEY = "story"
COPY_KEY = "copy"
BAND_KEY = "lsh"
SIGNATURE_KEY = "minhash"  # in the `<name>_texts` record: the MinHash signature (qa/ingest/stories.py)

TEXT_KEY = "text"
SPANS_KEY = "spans"


def encode_text(text: str) -> str:
    return base64.b85encode(zlib.compress(text.encode("utf-8"), 6)).decode("ascii")


def decode_text(stored: str) -> str:
    return zlib.decompress(base64.b85decode(stored)).decode("utf-8")


def encode_spans(spans: Sequence[tuple[int, int]]) -> str:
    return " ".join(f"{start}-{end}" for start, end in spans)


def decode_spans(stored: str) -> list[tuple[int, int]]:
    spans = []
    for pair in stored.split():
        start, _, end = pair.partition("-")
        spans.append((int(start), int(end)))
    return spans


def chunk_id(doc_id: str, n: int) -> str:
    return f"{doc_id}:{n}"


def doc_id_of(chunk: str) -> str:
    return chunk.rpartition(":")[0]


def article_chunks(
    doc_id: str,
    title: str,
    date: str | None,
    source: str,
    text: str,
    spans: Sequence[tuple[int, int]],
    story: str = "",
) -> list[StoredChunk]:
    """The chunks of one article, cut from its stored text by their spans."""
    return [
        StoredChunk(
            chunk_id=chunk_id(doc_id, n),
            doc_id=doc_id,
            title=title,
            date=date,
            source=source,
            start=start,
            end=end,
            text=text[start:end],
            story=story,
        )
        for n, (start, end) in enumerate(spans)
    ]
