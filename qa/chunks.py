"""A chunk of an article as it goes through the pipeline, one type per stage that needs its own.

`Chunk`: a piece of an article's body as chunking cuts it (character offsets into the body). `StoredChunk`: a
chunk as the index holds it, with its article's id, title, date and source. `Passage`: a stored chunk retrieved
for a question, numbered as the model, the reader and the user see it ([n]), with its similarity to the question.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    index: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as it comes back from the index."""

    chunk_id: str
    doc_id: str
    title: str
    date: str | None
    source: str
    start: int
    end: int
    text: str
    story: str = ""  # its article's story id (qa/ingest/stories.py); "" where not known: the article is its own


@dataclass(frozen=True)
class Elsewhere:
    """Another article of a passage's story (a near-duplicate copy, qa/ingest/stories.py) that retrieval left out."""

    doc_id: str
    title: str
    source: str
    date: str | None


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk, numbered as the model and the reader see it."""

    n: int
    chunk_id: str
    doc_id: str
    title: str
    date: str | None
    source: str
    text: str
    start: int
    end: int
    score: float
    story: str = ""  # its article's story id ("" when the retriever does not know stories: then its doc_id)
    also_in: tuple[Elsewhere, ...] = ()  # the other articles of its story, oldest first
