"""The pure helpers of the benchmark suite (benchmarks/bench_common.py): percentiles, sizes, markdown."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_common import Section, Target, markdown_table, percentile, size_chunks

pytestmark = pytest.mark.unit


def test_percentile_interpolates_between_ranks_like_numpy() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 50) == 2.5
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 95) == pytest.approx(3.85)


def test_percentile_of_nothing_is_nan_and_of_one_value_is_that_value() -> None:
    assert math.isnan(percentile([], 50))
    assert percentile([7.0], 95) == 7.0


def test_index_sizes_read_as_chunk_counts() -> None:
    assert size_chunks("1k") == 1000
    assert size_chunks("10k") == 10_000
    assert size_chunks("2500") == 2500
    assert size_chunks("full") is None
    with pytest.raises(SystemExit):
        size_chunks("big")


def test_markdown_table_right_aligns_numbers_and_escapes_pipes() -> None:
    table = markdown_table(["What", "p50"], [["a|b", "12.5 ms"], ["c", "–"]])
    assert table.splitlines() == ["| What | p50 |", "| --- | ---: |", "| a\\|b | 12.5 ms |", "| c | – |"]


def test_a_target_not_measured_is_said_so_and_a_miss_stands_out() -> None:
    section = Section("Retrieval")
    section.targets = [
        Target("p50", "≤ 50 ms", "40 ms", True),
        Target("p95", "≤ 150 ms", "200 ms", False),
        Target("cold", "≤ 5 s", "–", None),
    ]
    text = section.markdown()
    assert "| p50 | ≤ 50 ms | 40 ms | met |" in text
    assert "| p95 | ≤ 150 ms | 200 ms | **not met** |" in text
    assert "| cold | ≤ 5 s | – | not measured |" in text


def test_an_update_replaces_a_target_measured_at_another_size() -> None:
    from run import updated

    previous = (
        "# Benchmarks\n\n- Date: then\n\n## Targets\n\n"
        "| Target | Wanted | Measured | Verdict |\n| --- | --- | ---: | --- |\n"
        "| Retrieval p50 at 503,570 chunks | ≤ 20 ms | 13.9 ms | met |\n| Cold start | ≤ 5 s | 2.2 s | met |\n\n"
        "## Scale\n\nold figures\n\n## Cold starts\n\nkept\n"
    )
    section = Section("Scale")
    section.targets.append(Target("Retrieval p50 at 502,954 chunks", "≤ 20 ms", "17.1 ms", True))
    command = "python benchmarks/run.py --parts scale --update"
    text = updated(previous, [section], command, {"date": "now", "commit": "c"})
    assert "502,954" in text and "503,570" not in text and "old figures" not in text
    assert "| Cold start | ≤ 5 s | 2.2 s | met |" in text and "kept" in text
