"""What the HTTP API takes and what it gives beyond the Python API's own models.

Answers, statuses, article records and upload results are the Python API's models (`Answer`, `Status`,
`ArticleRecord`, `UploadResult`), published as they are; only the requests, pages and small replies are defined here.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from qa import ArticleRecord, UploadResult
from qa.arguments import check_question
from qa.settings import MAX_TOP_K

PAGE_MAX = 500  # articles in one page of GET /api/articles


def _question(value: object) -> object:
    # The CLI's own check, so an empty question gets the CLI's message ("The question is empty; …"); it raises an
    # InputError, a ValueError, which pydantic reports as a validation error on the field.
    check_question(value)
    return value


class AskRequest(BaseModel):
    """A question, with the options of `qa ask` (and the conversation's earlier questions)."""

    model_config = ConfigDict(extra="forbid")

    question: Annotated[str, BeforeValidator(_question)] = Field(
        min_length=1, max_length=2000, description="The question; a follow-up is read with `history`."
    )
    top_k: int | None = Field(None, ge=1, le=MAX_TOP_K, description="Passages given to the model (QA_TOP_K).")
    date_from: str | None = Field(None, description="Only articles dated on or after this day (YYYY-MM-DD).")
    date_to: str | None = Field(None, description="Only articles dated on or before this day (YYYY-MM-DD).")
    mode: Literal["auto", "generate", "extract"] | None = Field(
        None, description="Verified model text ('generate'), quotes ('extract'), or 'auto' (QA_MODE)."
    )
    backend: Literal["auto", "ollama", "embedded"] | None = Field(None, description="Answering model (QA_BACKEND).")
    choices: list[str] | None = Field(
        None, max_length=26, description="The options of a multiple-choice question (at least two)."
    )
    history: list[str] | None = Field(
        None, max_length=50, description="The conversation's earlier questions, oldest first, for a follow-up."
    )
    stream: bool = Field(
        False,
        description="Reply with server-sent events: `token` events with the draft's pieces as the model writes "
        "them, then one `answer` event with the answer object (or one `error` event).",
    )


class ArticlePage(BaseModel):
    """One page of the indexed articles, newest first (as `qa articles`)."""

    total: int = Field(description="Articles in the index.")
    offset: int
    limit: int
    articles: list[ArticleRecord]


class Removed(BaseModel):
    doc_id: str
    removed: int = Field(description="Articles removed (1).")


class UploadReport(BaseModel):
    """What became of each uploaded file, as the web UI's upload table shows it, and a summary line."""

    files: list[UploadResult]
    summary: str


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Problem(BaseModel):
    """Every error reply: one line that says what is wrong and what to do (the CLI's message)."""

    error: str
