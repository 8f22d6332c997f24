"""What changed between two eval runs: metric by metric, then case by case."""

from __future__ import annotations

from dataclasses import dataclass, field

from qa.evals.report import headline
from qa.evals.results import CaseResult, EvalRun


@dataclass(frozen=True)
class MetricChange:
    label: str
    before: float | None
    after: float | None

    @property
    def delta(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return round(self.after - self.before, 4)


@dataclass(frozen=True)
class CaseChange:
    id: str
    question: str
    before: str  # verdict, or "absent"
    after: str
    answer_before: str
    answer_after: str

    @property
    def kind(self) -> str:
        """fixed, broken, changed (another verdict, both right or both wrong), added, removed, reworded."""
        right = ("correct", "refused_correctly")
        if self.before == "absent":
            return "added"
        if self.after == "absent":
            return "removed"
        if self.before == self.after:
            return "reworded"
        if self.after in right and self.before not in right:
            return "fixed"
        if self.before in right and self.after not in right:
            return "broken"
        return "changed"


@dataclass
class Comparison:
    before: EvalRun
    after: EvalRun
    metrics: list[MetricChange] = field(default_factory=list)
    cases: list[CaseChange] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(c.kind == kind for c in self.cases)


def compare_runs(before: EvalRun, after: EvalRun) -> Comparison:
    """Cases are matched by id; a case appears when its verdict or its answer text changed."""
    result = Comparison(before, after)
    old_rows, new_rows = headline(before.metrics), headline(after.metrics)
    result.metrics = [MetricChange(label, old, new) for (_, label, old), (_, _, new) in zip(old_rows, new_rows)]
    old: dict[str, CaseResult] = {r.id: r for r in before.cases}
    new: dict[str, CaseResult] = {r.id: r for r in after.cases}
    for case_id in [*old, *(i for i in new if i not in old)]:
        a, b = old.get(case_id), new.get(case_id)
        if a and b and a.verdict == b.verdict and a.answer == b.answer:
            continue
        either = b or a
        result.cases.append(
            CaseChange(
                id=case_id,
                question=either.question if either else "",
                before=a.verdict if a else "absent",
                after=b.verdict if b else "absent",
                answer_before=a.answer if a else "",
                answer_after=b.answer if b else "",
            )
        )
    return result
