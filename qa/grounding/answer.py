"""Answers and their citations, built from the model's text and the passages it was shown."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from qa.chunks import Passage
from qa.generation.prompts import CANNOT_ANSWER
from qa.grounding.citations import best_quote, cited_numbers, sentences_citing
from qa.grounding.conflicts import Conflict
from qa.grounding.evidence import Evidence
from qa.grounding.ground import Grounded
from qa.grounding.verify import SentenceCheck


class OtherArticle(BaseModel):
    """Another article of a cited passage's story: a near-duplicate copy (a wire story in another outlet)."""

    doc_id: str
    title: str
    source: str = Field(description="Path or URL the article was ingested from.")
    date: str | None = Field(description="Article date YYYY-MM-DD, or None for an undated article.")


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
    also_in: list[OtherArticle] = Field(
        default_factory=list, description="The other articles that tell the same story (near-duplicates), oldest first."
    )


class Span(BaseModel):
    doc_id: str
    start: int = Field(description="Start in the article body (characters).")
    end: int


class Sentence(BaseModel):
    """A sentence of the answer (or one removed from it) and whether a cited passage backs it."""

    text: str
    citations: list[int]
    supported: bool
    span: Span | None = Field(None, description="The passage sentence that backs it, in its article.")
    reason: str = Field("", description="Why it is not backed (removed sentences).")


class ShortAnswer(BaseModel):
    """The words of a passage that answer the question: "18", "the United Arab Emirates", "December 28"."""

    text: str
    n: int = Field(description="The passage it is in: [n].")
    start: int | None = Field(
        description="Start in the article body (characters); None for a statement of the article's metadata (its date)."
    )
    end: int | None = Field(description="End in the article body (characters), exclusive; None as for start.")


class Timings(BaseModel):
    retrieve: float = 0.0
    generate: float = 0.0
    total: float = 0.0
    first_token: float = 0.0  # from the start of the question to the model's first piece of text; 0 without a model


class Answer(BaseModel):
    question: str
    answer: str
    refused: bool
    citations: list[Citation] = Field(default_factory=list)
    backend: str
    model: str
    timings_ms: Timings = Field(default_factory=Timings)
    note: str | None = Field(None, description="Why this backend was used, when it is a fallback.")
    mode: str = Field("generate", description="'generate' (model, verified) or 'extract' (quoted evidence).")
    sentences: list[Sentence] = Field(default_factory=list)
    removed: list[Sentence] = Field(default_factory=list, description="Sentences dropped as unsupported.")
    conflicts: list[Conflict] = Field(default_factory=list)
    choices: list[str] | None = Field(None, description="The options of a multiple-choice question, if any.")
    short_answer: ShortAnswer | None = Field(
        None, description="The trained reader's short answer that leads the answer; None when refused or none fits."
    )
    choice: int | None = Field(None, description="Index of the option the articles back; None when refused.")
    standalone_question: str | None = Field(
        None, description="The follow-up rewritten to stand alone (what was searched), when it was rewritten."
    )
    passages: list[Passage] = Field(default_factory=list, exclude=True)

    @property
    def text(self) -> str:
        return self.answer

    def to_json(self) -> dict[str, Any]:
        """The `qa ask --json` object."""
        return self.model_dump(mode="json")


def citation_for(passage: Passage, answer_text: str, backing: Evidence | None = None) -> Citation:
    """The citation of `passage` by the sentences of `answer_text` that carry its marker. Its quote is the sentence
    that backs them: `backing` where verification found it, else the passage sentence sharing most of their words."""
    if backing is not None:
        quote, quote_start, quote_end = backing.text, backing.article_start, backing.article_end
    else:
        start, end = best_quote(passage.text, sentences_citing(answer_text, passage.n))
        quote, quote_start, quote_end = passage.text[start:end], passage.start + start, passage.start + end
    return Citation(
        n=passage.n,
        doc_id=passage.doc_id,
        title=passage.title,
        date=passage.date,
        source=passage.source,
        text=passage.text,
        quote=quote,
        score=passage.score,
        quote_start=quote_start,
        quote_end=quote_end,
        also_in=also_in(passage),
    )


def also_in(passage: Passage) -> list[OtherArticle]:
    return [OtherArticle(doc_id=e.doc_id, title=e.title, source=e.source, date=e.date) for e in passage.also_in]


def refusal(question: str, passages: Sequence[Passage], *, backend: str, model: str) -> Answer:
    return Answer(
        question=question, answer=CANNOT_ANSWER, refused=True, backend=backend, model=model, passages=list(passages)
    )


def chosen_answer(
    question: str,
    choices: Sequence[str],
    index: int | None,
    evidence: Passage | None,
    passages: Sequence[Passage],
    *,
    backend: str,
    model: str,
) -> Answer:
    """The answer to a multiple-choice question: the option, cited to the passage that states it."""
    common = {"question": question, "backend": backend, "model": model, "passages": list(passages)}
    if index is None:
        return Answer(answer=CANNOT_ANSWER, refused=True, choices=list(choices), **common)
    if evidence is None:
        text = f"{choices[index]}: the articles back none of the other options."
        return Answer(answer=text, refused=False, choices=list(choices), choice=index, **common)
    text = f"{choices[index]} [{evidence.n}]"
    citation = citation_for(evidence, f"{question} {choices[index]} [{evidence.n}]")
    return Answer(answer=text, refused=False, citations=[citation], choices=list(choices), choice=index, **common)


def _sentence(check: SentenceCheck) -> Sentence:
    span = None
    if check.evidence is not None:
        e = check.evidence
        span = Span(doc_id=e.passage.doc_id, start=e.article_start, end=e.article_end)
    return Sentence(
        text=check.text, citations=check.citations, supported=check.supported, span=span, reason=check.reason
    )


def grounded_answer(
    question: str, grounded: Grounded, passages: Sequence[Passage], *, backend: str, model: str
) -> Answer:
    """The Answer for a grounded result: its sentences, what was removed, conflicts, and the citations."""
    removed = [_sentence(c) for c in grounded.removed]
    if grounded.refused:
        return Answer(
            question=question,
            answer=CANNOT_ANSWER,
            refused=True,
            backend=backend,
            model=model,
            mode=grounded.mode,
            removed=removed,
            passages=list(passages),
        )
    by_number = {p.n: p for p in passages}
    # The quote shown for a citation is the sentence that backs the claim, where verification found one.
    backing = {c.citations[0]: c.evidence for c in grounded.sentences if c.evidence and c.citations}
    citations = [
        citation_for(by_number[n], grounded.text, backing.get(n))
        for n in cited_numbers(grounded.text)
        if n in by_number
    ]
    return Answer(
        question=question,
        answer=grounded.text,
        refused=False,
        citations=citations,
        backend=backend,
        model=model,
        mode=grounded.mode,
        sentences=[_sentence(c) for c in grounded.sentences],
        removed=removed,
        conflicts=[grounded.conflict] if grounded.conflict else [],
        short_answer=_short(grounded),
        passages=list(passages),
    )


def _short(grounded: Grounded) -> ShortAnswer | None:
    lead = grounded.short
    if lead is None:
        return None
    evidence = lead.evidence
    if evidence.stated is not None:
        return ShortAnswer(text=lead.text, n=evidence.passage.n, start=None, end=None)
    return ShortAnswer(
        text=lead.text,
        n=evidence.passage.n,
        start=evidence.passage.start + lead.start,
        end=evidence.passage.start + lead.end,
    )
