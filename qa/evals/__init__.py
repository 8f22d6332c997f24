"""The eval harness: deterministic checks that answers match the source facts."""

from qa.evals.cases import EvalCase, load_cases
from qa.evals.compare import Comparison, compare_runs
from qa.evals.gate import GATED, failures
from qa.evals.report import write_report
from qa.evals.results import CaseResult, EvalRun, Metrics
from qa.evals.runner import evaluate

__all__ = [
    "GATED",
    "CaseResult",
    "Comparison",
    "EvalCase",
    "EvalRun",
    "Metrics",
    "compare_runs",
    "evaluate",
    "failures",
    "load_cases",
    "write_report",
]
