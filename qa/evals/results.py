"""What an eval run records: per-case verdicts and the aggregate metrics, saved as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from qa.errors import QAError

Verdict = Literal["correct", "wrong", "refused", "refused_correctly", "answered_unanswerable"]


class CitationCheck(BaseModel):
    n: int
    title: str
    quote: str
    supports: bool = Field(description="The cited passage holds (part of) a gold evidence quote.")


class CaseResult(BaseModel):
    id: str
    type: str
    question: str
    answerable: bool
    answer: str
    refused: bool
    verdict: Verdict
    correct: bool
    why: str
    matched: str | None = Field(None, description="The accepted answer found in the answer text.")
    citations: list[CitationCheck] = Field(default_factory=list)
    evidence_rank: int | None = Field(None, description="1-based rank of the first retrieved passage with evidence.")
    retrieved: int = 0
    numbers: list[str] = Field(default_factory=list)
    unsupported_numbers: list[str] = Field(default_factory=list)
    retrieve_ms: float = 0.0
    generate_ms: float = 0.0
    total_ms: float = 0.0


class Latency(BaseModel):
    p50: float | None
    p95: float | None


class Metrics(BaseModel):
    cases: int
    answerable: int
    accuracy: float = Field(description="Answerable cases whose answer holds an accepted answer.")
    overall: float = Field(description="All cases judged right: correct answers plus correct refusals.")
    refusal_precision: float | None = Field(description="Refusals that were right to refuse; None if none.")
    refusal_recall: float | None = Field(description="Unanswerable cases refused; None if there are none.")
    citation_precision: float | None = Field(description="Citations on answerable cases that hold gold evidence.")
    citation_recall: float | None = Field(description="Answerable cases with at least one such citation.")
    hit_at_k: float | None = Field(description="Answerable cases whose evidence is among the retrieved passages.")
    mrr: float | None = Field(description="Mean reciprocal rank of the first passage holding evidence.")
    number_faithfulness: float | None = Field(description="Numbers in answers found in a cited passage.")
    k: int
    by_type: dict[str, float] = Field(description="Share judged right per question type.")
    latency_ms: dict[str, Latency] = Field(description="Per stage: retrieve, generate, total.")


class EvalRun(BaseModel):
    set: str
    backend: str
    model: str
    settings: dict[str, object] = Field(default_factory=dict)
    created: str = ""
    seconds: float = 0.0
    metrics: Metrics
    cases: list[CaseResult]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.model_dump(mode="json"), ensure_ascii=False, indent=1) + "\n", "utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> EvalRun:
        path = Path(path)
        if path.is_dir():
            path = path / "results.json"
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise QAError(f"No eval results at {path}; write them with `qa eval --report DIR`") from exc
        except ValidationError as exc:
            raise QAError(
                f"{path} is not an eval results file ({exc.error_count()} problems); rerun `qa eval`"
            ) from exc
