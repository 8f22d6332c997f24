"""The fault suite of issue 12 (benchmarks/faults.py), small: every bad input handled, no run aborted, nothing
lost, a killed ingest made exact by the next run, two concurrent writers leaving a healthy index and honest
reports. Real `qa` processes; the index judged by a fresh chromadb client, not by our code."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import faults

pytestmark = pytest.mark.integration


def test_the_fault_suite_finds_no_fault_in_one_small_trial_of_each_kind(tmp_path: Path) -> None:
    opts = faults.Options(trials=1, articles=300, writers_articles=300, workdir=tmp_path)
    results = faults.run(opts)
    bad = results["bad_inputs"]
    assert (bad["aborted"], bad["lost"], bad["indexed_anyway"], bad["wrong"]) == (0, 0, 0, 0), bad["problems"]
    assert bad["reported"] == bad["tried"] > 20
    [killed] = results["kill"]["trials"]
    assert killed["exact"] and killed["answers"], killed
    [shared] = results["concurrent"]["trials"]
    # Either writer may take the lock first; the other finds every article unchanged.
    assert shared["healthy"] and shared["honest"] and sorted(shared["added"]) == [0, 300], shared
    text = faults.render(results, opts, "test")
    assert "| bad inputs tried |" in text and "## kill -9" in text and "## Concurrent writers" in text
