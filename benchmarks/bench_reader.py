"""Speed of the trained reader: `python benchmarks/bench_reader.py [--questions N]`.

Over the seed articles (indexed into a scratch folder) and the questions of evals/seeds.jsonl: what the reader
adds to an answer today (reading the passage of the sentence the answer rests on, for its short answer), and
what reading all 5 passages an answer is given costs (issue 24's target: at most 150 ms p50 on 2 cores). Each
reading starts from an empty reading cache. Cold start: the first use in a fresh user cache (merge the adapter
into the bundled MiniLM, export to ONNX, check against torch), then the first use with the export cached.
Figures only: nothing fails on a slow result.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=60, help="seed questions timed (default 60)")
    args = parser.parse_args()

    from qa import Assistant, Settings
    from qa.grounding.evidence import rank
    from qa.reader.runtime import OnnxReader
    from qa.reader.short import short_answer

    with tempfile.TemporaryDirectory() as cache:
        before = os.environ.get("XDG_CACHE_HOME")
        os.environ["XDG_CACHE_HOME"] = cache
        try:
            started = time.perf_counter()
            OnnxReader()._ready()
            cold = time.perf_counter() - started
            started = time.perf_counter()
            OnnxReader()._ready()
            warm = time.perf_counter() - started
        finally:
            if before is None:
                del os.environ["XDG_CACHE_HOME"]
            else:
                os.environ["XDG_CACHE_HOME"] = before

    with tempfile.TemporaryDirectory() as index:
        assistant = Assistant(Settings(index_dir=index))
        assistant.ingest([ROOT / "seeds"])
        reader = assistant.reader
        reader.read("warm up", ["The reader is loaded once."])
        lines = (ROOT / "evals" / "seeds.jsonl").read_text(encoding="utf-8").splitlines()
        questions = [json.loads(line)["question"] for line in lines if line.strip()][: args.questions]
        five: list[float] = []
        short: list[float] = []
        for question in questions:
            passages = assistant.retrieve(question)
            reader._recent.clear()
            started = time.perf_counter()
            reader.read(question, [p.text for p in passages])
            five.append(time.perf_counter() - started)
            ranked = rank(question, passages, assistant.embedder)
            if ranked:
                reader._recent.clear()
                started = time.perf_counter()
                short_answer(question, ranked[0], reader)
                short.append(time.perf_counter() - started)

    print(f"# The trained reader ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)")
    print(f"cold start, fresh cache (merge, export, check): {cold:.1f} s; export cached (load): {warm * 1000:.0f} ms")
    print(f"{len(five)} seed questions, {reader.name} at {reader.precision}:")
    for name, values in (("short answer (1 passage, today's path)", short), ("all 5 answer passages", five)):
        print(
            f"  {name}: p50 {_p(values, 50) * 1000:.0f} ms, p95 {_p(values, 95) * 1000:.0f} ms, "
            f"mean {statistics.mean(values) * 1000:.0f} ms"
        )
    met = "met" if _p(five, 50) <= 0.150 else "NOT met"
    print(f"target: 5 passages p50 <= 150 ms: {met} ({_p(five, 50) * 1000:.0f} ms, ratio {_p(five, 50) / 0.150:.2f})")


if __name__ == "__main__":
    main()
