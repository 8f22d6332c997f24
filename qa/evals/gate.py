"""Thresholds that turn an eval run into a pass/fail gate (CI runs the seed set through it)."""

from __future__ import annotations

from collections.abc import Mapping

from qa.errors import QAError
from qa.evals.results import Metrics

GATED = (
    "accuracy",
    "overall",
    "refusal_precision",
    "refusal_recall",
    "citation_precision",
    "citation_recall",
    "hit_at_k",
    "mrr",
    "number_faithfulness",
)


def failures(metrics: Metrics, minimums: Mapping[str, float | None]) -> list[str]:
    """One line per metric below its minimum. A metric with nothing to measure (None) does not fail."""
    problems = []
    for name, minimum in minimums.items():
        if minimum is None:
            continue
        if name not in GATED:
            raise QAError(f"No metric {name!r} to gate on; choose from {', '.join(GATED)}")
        if not 0 <= minimum <= 1:
            raise QAError(f"The minimum for {name} must be between 0 and 1, got {minimum}")
        value = getattr(metrics, name)
        if value is not None and value < minimum:
            problems.append(f"{name} {value:.3f} < {minimum:.3f}")
    return problems
