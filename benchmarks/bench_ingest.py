"""Ingest throughput and re-ingest: `python benchmarks/bench_ingest.py [--ingest-articles N]`.

In one process, on the same sample of articles written as JSON lines files:
1. our ingest end to end (`Assistant.ingest`: parse, chunk, embed, write to Chroma);
2. the raw encoder alone (`SentenceTransformer.encode`) on the very texts our ingest embedded, with our batch size;
3. a plain llama-index pipeline as a user would write it (`VectorStoreIndex.from_documents`, default settings,
   the same model through `HuggingFaceEmbedding`, a Chroma store), and how many of its chunks the encoder
   silently truncates;
then the same ingest again unchanged, and once more after one article in one file changed.
Each contender's model is loaded and warmed up before its clock starts; the load times are reported apart.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_common import (
    Section,
    Target,
    Workspace,
    load_now,
    log,
    num,
    open_chroma,
    part_main,
    ratio,
    sample_articles,
    secs,
    stopwatch,
)

TARGET_VS_RAW = 0.9
TARGET_VS_LLAMA_INDEX = 1.5
TARGET_REINGEST_SHARE = 0.02


def write_corpus(articles: list[dict[str, Any]], folder: Path, files: int) -> list[Path]:
    """The articles as `files` JSON lines files of consecutive articles, so one file can change alone."""
    folder.mkdir(parents=True, exist_ok=True)
    files = max(1, min(files, len(articles)))
    per_file = math.ceil(len(articles) / files)
    paths = []
    for number in range(files):
        part = articles[number * per_file : (number + 1) * per_file]
        if not part:
            break
        path = folder / f"articles-{number:03d}.jsonl"
        path.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in part), encoding="utf-8")
        paths.append(path)
    return paths


def stored_chunks(index_dir: Path) -> tuple[list[str], list[str], np.ndarray]:
    """Titles, texts and vectors of every chunk our ingest wrote, read back from the index."""
    from bench_common import COLLECTION

    from qa import Settings
    from qa.index.store import Store

    model = open_chroma(index_dir).get_collection(f"{COLLECTION}_chunks").metadata["embedding_model"]
    store = Store(Settings(index_dir=index_dir, chroma_url=None), model)
    chunks = list(store.iter_chunks())
    vectors = store.chunk_embeddings([c.chunk_id for c in chunks])
    stored = np.asarray([vectors[c.chunk_id] for c in chunks], dtype=np.float32)
    return [c.title for c in chunks], [c.text for c in chunks], stored


def confirm_texts(
    candidates: list[str], vectors: np.ndarray, bare: list[str], stored: np.ndarray, model: Any
) -> tuple[list[str], int, int]:
    """Check that the texts we gave the raw encoder are the ones our ingest embedded.

    Each candidate ("title\\ntext") must embed to the vector stored for its chunk (cosine ≥ 0.999); those that
    do not are tried without the title (ingest leaves out very long titles). Returns the confirmed texts, how many
    of them are without their title, and how many matched neither way.
    """
    result = list(candidates)
    retry = [i for i, cosine in enumerate((vectors * stored).sum(axis=1)) if cosine < 0.999]
    unconfirmed = without_title = 0
    if retry:
        again = model.encode([bare[i] for i in retry], normalize_embeddings=True, show_progress_bar=False)
        for i, vector in zip(retry, again):
            if float(np.dot(vector, stored[i])) >= 0.999:
                result[i] = bare[i]
                without_title += 1
            else:
                unconfirmed += 1
    return result, without_title, unconfirmed


def count_over_window(texts: list[str], tokenizer: Any, window: int) -> tuple[int, int, int]:
    """Texts longer than the encoder's window (special tokens included), and word pieces beyond it."""
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]]
    over = [n for n in lengths if n > window]
    return len(over), sum(n - window for n in over), sum(lengths)


def llama_index_texts(persist_dir: Path, collection_name: str) -> list[str]:
    """What llama-index embedded for each of its nodes (text plus the metadata it adds for embedding)."""
    from llama_index.core.schema import MetadataMode
    from llama_index.core.vector_stores.utils import metadata_dict_to_node

    collection = open_chroma(persist_dir).get_collection(collection_name)
    page = collection.get(include=["documents", "metadatas"])
    return [
        metadata_dict_to_node(meta, text).get_content(metadata_mode=MetadataMode.EMBED)
        for text, meta in zip(page["documents"], page["metadatas"])
    ]


def run(workspace: Workspace) -> Section:
    from qa import Assistant, Settings

    opts = workspace.opts
    section = Section("1–2. Ingest throughput and re-ingest")
    articles = sample_articles(opts.data, opts.ingest_articles)
    chars = sum(len(a.get("text") or "") for a in articles)
    folder = workspace.root / "ingest-articles"
    files = write_corpus(articles, folder, opts.ingest_files)
    log(f"ingest: {len(articles)} articles ({chars:,} characters) in {len(files)} files")

    # --- 1a. ours, end to end -----------------------------------------------------------------------
    with stopwatch() as imports:  # imported before any clock starts, so model loads compare like with like
        import llama_index.embeddings.huggingface  # noqa: F401
        import sentence_transformers  # noqa: F401
    index_dir = workspace.root / "ingest-index"
    settings = Settings(index_dir=index_dir, backend="embedded", chroma_url=None)
    assistant = Assistant(settings)
    with stopwatch() as load_ours:
        assistant.embedder.embed(["warm up the encoder"])
    busy_ours = load_now()
    with stopwatch() as ours_t:
        report = assistant.ingest([folder])
    ours = ours_t[0]
    chunks = report.chunks
    log(f"ours: {report.added} articles, {chunks} chunks in {ours:.1f} s ({chunks / ours:.1f} chunks/s)")
    if report.failed:
        section.notes.append(f"Our ingest skipped {len(report.failed)} file(s): {report.failed[0].error}")

    # --- 1b. the raw encoder on the very same texts -------------------------------------------------
    from sentence_transformers import SentenceTransformer

    from qa.index.embeddings import bundled_model_path

    batch_size = settings.embed_batch_size
    with stopwatch() as load_raw:
        model = SentenceTransformer(str(bundled_model_path()), device="cpu", local_files_only=True)
        model.encode(["warm up the encoder"])
    titles, bare, stored = stored_chunks(index_dir)
    candidates = [f"{t}\n{x}" if t else x for t, x in zip(titles, bare)]
    busy_raw = load_now()
    with stopwatch() as raw_t:
        vectors = model.encode(
            candidates, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
    raw = raw_t[0]
    texts, without_title, unconfirmed = confirm_texts(candidates, np.asarray(vectors), bare, stored, model)
    window = int(model.max_seq_length or 256)
    ours_over, _, ours_pieces = count_over_window(texts, model.tokenizer, window)
    log(f"raw encoder: {len(texts)} texts in {raw:.1f} s ({len(texts) / raw:.1f} chunks/s)")

    # --- 1c. plain llama-index ----------------------------------------------------------------------
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    with stopwatch() as load_li:
        embed_model = HuggingFaceEmbedding(model_name=str(bundled_model_path()), device="cpu")
        embed_model.get_text_embedding("warm up the encoder")
    li_dir = workspace.root / "plain-llama-index"
    li_collection = open_chroma(li_dir).get_or_create_collection("plain")
    documents = [
        Document(text=a.get("text") or "", metadata={"title": a.get("title") or "", "date": a.get("publish_date")})
        for a in articles
    ]
    busy_li = load_now()
    with stopwatch() as li_t:
        storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=li_collection))
        VectorStoreIndex.from_documents(documents, storage_context=storage, embed_model=embed_model)
    li = li_t[0]
    li_texts = llama_index_texts(li_dir, "plain")
    li_over, li_lost, li_pieces = count_over_window(li_texts, model.tokenizer, window)
    log(f"llama-index: {len(li_texts)} nodes in {li:.1f} s, {li_over} over the {window}-piece window")

    # --- 2. re-ingest -------------------------------------------------------------------------------
    again = Assistant(settings)  # a fresh assistant, as a second `qa ingest` would be
    with stopwatch() as unchanged_t:
        unchanged = again.ingest([folder])
    cli_seconds = _cli_ingest(index_dir, folder)
    changed_file = files[len(files) // 2]
    lines = changed_file.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[0])
    record["text"] = (record.get("text") or "") + "\n\nThis article was updated with one more sentence."
    lines[0] = json.dumps(record, ensure_ascii=False)
    changed_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with stopwatch() as changed_t:
        changed = again.ingest([folder])
    log(f"re-ingest: unchanged {unchanged_t[0]:.2f} s, one changed article {changed_t[0]:.2f} s")

    # --- report -------------------------------------------------------------------------------------
    vs_raw, vs_li = raw / ours, li / ours
    section.intro = (
        f"{len(articles)} articles sampled from the RealTimeQA set ({chars:,} characters of article text), written "
        f"as {len(files)} JSON lines files. Speeds are over the article characters, and over the chunks each "
        f"pipeline embedded; ratios compare times on the same work (ours ÷ other, higher is better for ours). "
        f"Encoder batch size {batch_size} (our default `embed_batch_size`) for ours and the raw encoder; "
        "llama-index with its defaults."
    )
    section.table(
        "Ingest, same articles, same run (model loaded and warmed up before each clock starts; load: the machine's "
        "1-minute load average when the clock started, 2 = both cores busy):",
        ["Pipeline", "Time", "Characters/s", "Chunks", "Chunks/s", "Model load", "Chunks over window", "Load"],
        [
            [
                "ours: `Assistant.ingest` end to end",
                secs(ours),
                num(chars / ours),
                num(chunks),
                num(chunks / ours, 1),
                secs(load_ours[0]),
                f"{num(ours_over)} of {num(len(texts))}",
                busy_ours,
            ],
            [
                "raw encoder: `SentenceTransformer.encode` on our chunk texts",
                secs(raw),
                num(chars / raw),
                num(len(texts)),
                num(len(texts) / raw, 1),
                secs(load_raw[0]),
                "(same texts)",
                busy_raw,
            ],
            [
                "plain llama-index: `VectorStoreIndex.from_documents` + Chroma",
                secs(li),
                num(chars / li),
                num(len(li_texts)),
                num(len(li_texts) / li, 1),
                secs(load_li[0]),
                f"{num(li_over)} of {num(len(li_texts))}",
                busy_li,
            ],
        ],
    )
    section.table(
        "",
        ["Ratio", "Value"],
        [
            ["ours vs raw encoder (raw time ÷ our time, same chunk texts)", ratio(vs_raw)],
            ["ours vs plain llama-index (its time ÷ our time, same articles)", ratio(vs_li)],
            [
                "word pieces embedded, ours ÷ llama-index (how much more text ours actually encodes)",
                ratio(ours_pieces / max(1, li_pieces - li_lost)),
            ],
            [
                "word pieces embedded per second, ours ÷ llama-index",
                ratio((ours_pieces / ours) / max(1e-9, (li_pieces - li_lost) / li)),
            ],
        ],
    )
    share = unchanged_t[0] / ours
    section.table(
        "Re-ingest (a fresh `Assistant` on the same index; `ingest` of the same folder):",
        ["Run", "Time", "Share of first ingest", "Report"],
        [
            ["first ingest", secs(ours), "100%", _describe(report)],
            ["same files, unchanged", secs(unchanged_t[0]), f"{share:.2%}", _describe(unchanged)],
            [
                "same, as a new `qa ingest` process (start to exit)",
                secs(cli_seconds),
                f"{cli_seconds / ours:.1%}",
                "interpreter start, imports and Chroma open included",
            ],
            [
                f"one article changed in {changed_file.name}",
                secs(changed_t[0]),
                f"{changed_t[0] / ours:.2%}",
                _describe(changed),
            ],
        ],
    )
    section.targets = [
        Target(
            "Ingest end to end vs raw encoder",
            f"≥ {TARGET_VS_RAW}×",
            ratio(vs_raw),
            vs_raw >= TARGET_VS_RAW,
        ),
        Target(
            "Ingest end to end vs plain llama-index",
            f"≥ {TARGET_VS_LLAMA_INDEX}×",
            ratio(vs_li),
            vs_li >= TARGET_VS_LLAMA_INDEX,
        ),
        Target("Our chunks truncated by the encoder", "0", str(ours_over), ours_over == 0),
        Target(
            "Unchanged re-ingest, share of the first ingest",
            f"≤ {TARGET_REINGEST_SHARE:.0%}",
            f"{share:.2%}",
            share <= TARGET_REINGEST_SHARE,
        ),
    ]
    section.notes += [
        f"Silent truncation of the plain llama-index pipeline: {li_over} of its {len(li_texts)} chunks "
        f"({li_over / max(1, len(li_texts)):.0%}) exceed the encoder's {window}-word-piece window; "
        f"{li_lost:,} of {li_pieces:,} word pieces ({li_lost / max(1, li_pieces):.0%}) were never seen by the "
        "encoder. Its chunks are 1,024 tiktoken tokens (llama-index's default) plus the metadata header.",
        "The raw encoder's texts were rebuilt from the stored chunks (title + newline + chunk text) and checked "
        "against the stored vectors: "
        + (
            "every one embeds to its stored vector (cosine ≥ 0.999)"
            if not unconfirmed
            else f"{unconfirmed} of {len(texts)} could not be matched to their stored vector"
        )
        + (
            f"; {without_title} chunks of articles with very long titles were embedded without the title (the "
            "timed run gave the encoder their titled text)."
            if without_title
            else "."
        ),
        "The raw encoder gets all texts in one `encode` call, so it sorts them by length across the whole corpus; "
        "our ingest embeds in batches of a few hundred chunks as it goes.",
        f"Model load times exclude importing torch, sentence-transformers and llama-index ({secs(imports[0])}, "
        "done first).",
    ]
    return section


def _describe(report: Any) -> str:
    return (
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, removed {report.removed}, "
        f"{report.chunks} chunks written"
    )


def _cli_ingest(index_dir: Path, folder: Path) -> float:
    """Wall time of `qa --index DIR ingest --json FOLDER` in a new process."""
    import subprocess
    import sys

    from bench_common import ROOT, child_env

    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "qa.cli", "--index", str(index_dir), "ingest", "--json", str(folder)],
        check=True,
        capture_output=True,
        env=child_env(),
        cwd=ROOT,
    )
    return time.perf_counter() - started


if __name__ == "__main__":
    part_main("ingest", run)
