"""Index footprint (issue 15): bytes per chunk on disk, the current layout beside the layout it replaced.

Articles sampled from the RealTimeQA archive are ingested into a fresh index (the current layout), the retrieval
cache is built by one question, and the same records, vectors included, are written a second time the way layout 1
kept them (each chunk's text as a full-text-indexed Chroma document with llama-index's node JSON, the article text
in the catalog). Both are measured the same way: SQLite's pages per table (its `dbstat` view), the vector index
folders and the retrieval cache.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench_common import Section, Target, Workspace, dir_size, log, num, part_main, sample_articles, stopwatch
from bench_ingest import write_corpus

TARGET_BYTES_PER_CHUNK = 5 * 1024


def sqlite_tables(db: Path) -> dict[str, int]:
    """Bytes of each table and index of a SQLite file, full-text tables grouped under "full-text search"."""
    sizes: dict[str, int] = defaultdict(int)
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        for name, size in conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            group = "full-text search" if "fts" in name or "fulltext" in name else name
            sizes[group] += int(size)
    return dict(sizes)


def footprint(index: Path) -> dict[str, int]:
    """Bytes by component: SQLite tables, vector index folders, retrieval cache, free pages, everything."""
    db = index / "chroma.sqlite3"
    tables = sqlite_tables(db)
    parts = {
        "full-text search": tables.pop("full-text search", 0),
        "metadata (values and index)": sum(v for k, v in tables.items() if "metadata" in k),
        "vector index (HNSW)": sum(dir_size(p) for p in index.iterdir() if p.is_dir() and p.name != "cache"),
        "retrieval cache": dir_size(index / "cache") if (index / "cache").exists() else 0,
    }
    parts["other SQLite (records, write log, free pages)"] = db.stat().st_size - sum(
        v for k, v in sqlite_tables(db).items() if k == "full-text search" or "metadata" in k
    )
    parts["total"] = dir_size(index)
    return parts


def write_layout_1(source: Any, target: Path) -> None:
    """The index `source` (an Assistant) holds, written again as layout 1 kept it, same vectors and texts."""
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
    from llama_index.core.vector_stores.utils import node_to_metadata_dict

    from qa import Settings
    from qa.index.chroma import open_client

    catalog = source.store.catalog
    client = open_client(Settings(index_dir=target, chroma_url=None))
    config = {"hnsw": {"space": "cosine"}}
    old_chunks = client.create_collection(
        "articles_chunks",
        metadata={"embedding_model": source.embedder.name, "qa_schema": 1},
        configuration=config,
        embedding_function=None,
    )
    old_catalog = client.create_collection(
        "articles_catalog", metadata={"revision": 1}, configuration=config, embedding_function=None
    )
    records = source.store.articles()
    for start in range(0, len(records), 200):
        page = records[start : start + 200]
        ids = [r.doc_id for r in page]
        texts = source.store.article_texts(ids)
        got = catalog.get(ids=ids, include=["metadatas", "embeddings"])
        old_catalog.add(
            ids=got["ids"], embeddings=got["embeddings"], metadatas=got["metadatas"],
            documents=[texts[i][0] for i in got["ids"]],
        )  # fmt: skip
        stored = list(source.store.chunks_of(page))
        vectors = source.store.chunk_embeddings([c.chunk_id for c in stored])
        metadatas = []
        for c in stored:
            node = TextNode(
                id_=c.chunk_id,
                text=c.text,
                metadata={
                    "doc_id": c.doc_id, "title": c.title, "date": c.date or "", "date_num": 0, "source": c.source,
                    "start": c.start, "end": c.end, "chunk": int(c.chunk_id.rpartition(":")[2]),
                },
            )  # fmt: skip
            node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=c.doc_id)
            metadatas.append(node_to_metadata_dict(node, remove_text=True, flat_metadata=True))
        old_chunks.add(
            ids=[c.chunk_id for c in stored],
            embeddings=[vectors[c.chunk_id] for c in stored],
            documents=[c.text for c in stored],
            metadatas=metadatas,
        )


def run(workspace: Workspace) -> Section:
    from qa import Assistant, Settings

    opts = workspace.opts
    n = opts.footprint_articles
    section = Section(
        "Index footprint: bytes per chunk, the current layout beside layout 1",
        intro=f"{n} articles sampled from {opts.data}, ingested into a fresh index; layout 1 is the same records and "
        "vectors written the way newsqa wrote them before issue 15.",
    )
    root = Path(tempfile.mkdtemp(prefix="footprint-", dir=workspace.root))
    corpus = write_corpus(sample_articles(opts.data, n), root / "articles", files=max(1, n // 100))
    index = root / "index"
    settings = Settings(index_dir=index, chroma_url=None)
    assistant = Assistant(settings)
    with stopwatch() as took:
        report = assistant.ingest([root / "articles"])
    assistant.retrieve("What happened in the election?")  # builds and saves the retrieval cache
    chunks = assistant.store.count_chunks()
    log(f"ingested {report.added} articles, {chunks} chunks in {took[0]:.0f} s ({len(corpus)} files)")
    old = root / "layout-1"
    write_layout_1(assistant, old)
    new_sizes, old_sizes = footprint(index), footprint(old)
    # The retrieval cache is built from whichever layout the index has, in one format: counted alike for both.
    old_sizes["retrieval cache"] = new_sizes["retrieval cache"]
    old_sizes["total"] += new_sizes["retrieval cache"]
    rows = []
    for part in new_sizes:
        rows.append([part, num(old_sizes.get(part, 0) / chunks), num(new_sizes[part] / chunks)])
    section.table(
        f"Bytes per chunk ({chunks:,} chunks, {report.added:,} articles):",
        ["Component", "Layout 1 (B/chunk)", "Current (B/chunk)"],
        rows,
    )
    per_chunk = new_sizes["total"] / chunks
    section.targets.append(
        Target("Index footprint per chunk", "≤ 5 KB", f"{per_chunk / 1024:.2f} KB", per_chunk <= TARGET_BYTES_PER_CHUNK)
    )
    section.notes.append(
        f"Layout 1: {old_sizes['total'] / chunks / 1024:.2f} KB per chunk; current: {per_chunk / 1024:.2f} KB "
        f"({old_sizes['total'] / new_sizes['total']:.1f}× smaller)."
    )
    return section


if __name__ == "__main__":
    part_main("footprint", run)
