"""`qa eval` and `qa.evaluate` end to end over the seeds: real Chroma and embedder, Ollama-speaking fake model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa import EvalRun, evaluate
from qa.cli.commands import cli
from tests.conftest import ROOT, SEEDS, make_settings
from tests.fake_ollama import FakeOllama

pytestmark = pytest.mark.integration
SEED_SET = ROOT / "evals" / "seeds.jsonl"


def _quality(run: EvalRun) -> dict[str, object]:
    """Everything but wall-clock figures, which differ between any two runs."""
    metrics = run.metrics.model_dump(exclude={"latency_ms"})
    cases = [c.model_dump(exclude={"retrieve_ms", "generate_ms", "total_ms"}) for c in run.cases]
    return {"metrics": metrics, "cases": cases}


def test_two_runs_give_identical_numbers_and_leave_the_users_index_alone(tmp_path: Path, ollama: FakeOllama) -> None:
    settings = make_settings(tmp_path / "users-index", ollama_host=ollama.url)
    first = evaluate(SEED_SET, articles=SEEDS, settings=settings, backend="ollama", limit=12)
    second = evaluate(SEED_SET, articles=SEEDS, settings=settings, backend="ollama", limit=12)
    assert _quality(first) == _quality(second)
    assert first.metrics.cases == 12 and first.backend == "ollama"
    assert first.metrics.hit_at_k is not None and first.metrics.hit_at_k > 0.5
    assert not (tmp_path / "users-index").exists()


def test_cli_prints_metrics_writes_the_report_and_gates(
    tmp_path: Path, ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", ollama.url)
    monkeypatch.chdir(ROOT)
    runner = CliRunner()
    report = tmp_path / "report"
    passed = runner.invoke(cli, ["eval", "--backend", "ollama", "--limit", "6", "--report", str(report)])
    assert passed.exit_code == 0, passed.output
    assert "answer accuracy (answerable)" in passed.output and "number faithfulness" in passed.output
    assert {p.name for p in report.iterdir()} == {"results.json", "report.md", "chart.png"}

    gated = runner.invoke(cli, ["eval", "--backend", "ollama", "--limit", "6", "--min-accuracy", "1"])
    assert gated.exit_code == 1 and "Below the thresholds: accuracy" in gated.output


def test_cli_json_and_compare(tmp_path: Path, ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", ollama.url)
    monkeypatch.chdir(ROOT)
    runner = CliRunner()
    result = runner.invoke(cli, ["eval", "--backend", "ollama", "--limit", "4", "--json"])
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    assert len(run["cases"]) == 4 and {"accuracy", "mrr", "by_type"} <= set(run["metrics"])

    before = tmp_path / "before.json"
    before.write_text(result.stdout, encoding="utf-8")
    run["cases"][0]["verdict"], run["cases"][0]["correct"] = "refused", False
    run["cases"][0]["answer"] = "The articles do not answer this question."
    after = tmp_path / "after.json"
    after.write_text(json.dumps(run), encoding="utf-8")
    compared = runner.invoke(cli, ["eval", "--compare", str(before), str(after)])
    assert compared.exit_code == 0, compared.output
    assert run["cases"][0]["id"] in compared.output and "→ refused" in compared.output


def test_a_missing_eval_set_is_one_clean_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["eval", "--set", "nope.jsonl"])
    assert result.exit_code == 1 and "No eval set at nope.jsonl" in result.output
