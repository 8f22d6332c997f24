"""Answers and their citations, built from the model's text and the passages it was shown."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from qa.citations import best_quote, cited_numbers, drop_invalid, is_refusal, repair_citations, sentences_citing
from qa.prompts import CANNOT_ANSWER
from qa.retrieval import Passage


class Citation(BaseModel):
    """A passage the answer cites, with the span of it that backs the claim."""

    n: int = Field(description="The marker number in the answer text: [n].")
    doc_id: str
    title: str
    date: str | None = Field(description="Article date YYYY-MM-DD, or None for an undated article.")
    source: str = Field(description="Path or URL the article was ingested from.")
    text: str = Field(description="The whole passage shown to the model.")
    quote: str = Field(description="The sentence of the passage that best backs the citing sentences.")
    score: float = Field(description="Cosine similarity of the passage to the question.")
    quote_start: int = Field(description="Start of the quote in the article body (characters).")
    quote_end: int = Field(description="End of the quote in the article body (characters).")


class Timings(BaseModel):
    retrieve: float = 0.0
    generate: float = 0.0
    total: float = 0.0


class Answer(BaseModel):
    question: str
    answer: str
    refused: bool
    citations: list[Citation] = Field(default_factory=list)
    backend: str
    model: str
    timings_ms: Timings = Field(default_factory=Timings)
    note: str | None = Field(None, description="Why this backend was used, when it is a fallback.")
    passages: list[Passage] = Field(default_factory=list, exclude=True)

    @property
    def text(self) -> str:
        return self.answer

    def to_json(self) -> dict[str, Any]:
        """The `qa ask --json` object."""
        return self.model_dump(mode="json")


def citation_for(passage: Passage, answer_text: str) -> Citation:
    claims = sentences_citing(answer_text, passage.n)
    start, end = best_quote(passage.text, claims)
    return Citation(
        n=passage.n,
        doc_id=passage.doc_id,
        title=passage.title,
        date=passage.date,
        source=passage.source,
        text=passage.text,
        quote=passage.text[start:end],
        score=passage.score,
        quote_start=passage.start + start,
        quote_end=passage.start + end,
    )


def build_answer(question: str, raw: str, passages: Sequence[Passage], *, backend: str, model: str) -> Answer:
    """Turn the model's text into an Answer: refusals recognised, bad markers dropped, citations resolved."""
    text = " ".join(raw.split())
    if not text or is_refusal(text):
        return Answer(
            question=question, answer=CANNOT_ANSWER, refused=True, backend=backend, model=model, passages=list(passages)
        )
    text = drop_invalid(text, len(passages))
    by_number = {p.n: p for p in passages}
    text = repair_citations(text, {p.n: f"{p.title} {p.text}" for p in passages})
    citations = [citation_for(by_number[n], text) for n in cited_numbers(text) if n in by_number]
    return Answer(
        question=question,
        answer=text,
        refused=False,
        citations=citations,
        backend=backend,
        model=model,
        passages=list(passages),
    )


def refusal(question: str, passages: Sequence[Passage], *, backend: str, model: str) -> Answer:
    return Answer(
        question=question, answer=CANNOT_ANSWER, refused=True, backend=backend, model=model, passages=list(passages)
    )
