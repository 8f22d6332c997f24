"""Eval cases: a question, the answers we accept, and the article quotes that back them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from qa.errors import QAError

CaseType = Literal["number", "fact", "multi_doc", "date", "unanswerable", "false_premise", "injection"]


class EvalCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, description="Stable slug; runs are compared case by case on it.")
    question: str = Field(min_length=1)
    type: CaseType
    answers: list[str] = Field(description="Accepted answers; any one appearing in the answer counts.")
    evidence: list[str] = Field(description="Exact quotes from the articles that back the answer.")
    doc: str | list[str] | None = Field(description="The article file(s) the answer comes from.")
    answerable: bool

    @model_validator(mode="after")
    def _answerable_has_answers(self) -> EvalCase:
        if self.answerable and not (self.answers and self.evidence):
            raise ValueError("an answerable case needs at least one answer and one evidence quote")
        if not self.answerable and self.answers:
            raise ValueError("an unanswerable case must have no accepted answers")
        return self


def load_cases(path: str | Path) -> list[EvalCase]:
    """Read a JSON-lines case file; errors name the file, the line and the field."""
    path = Path(path)
    if not path.is_file():
        raise QAError(f"No eval set at {path}; pass --set with a JSON-lines file of cases (see evals/README.md)")
    cases: list[EvalCase] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = EvalCase.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            raise QAError(f"{path}:{number}: not valid JSON ({exc.msg}); each line must be one case object") from exc
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'case'}: {e['msg']}" for e in exc.errors())
            raise QAError(f"{path}:{number}: {problems}") from exc
        if case.id in seen:
            raise QAError(f"{path}:{number}: duplicate case id {case.id!r}; ids must be unique")
        seen.add(case.id)
        cases.append(case)
    if not cases:
        raise QAError(f"{path} holds no cases")
    return cases
