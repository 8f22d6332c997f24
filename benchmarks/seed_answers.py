"""Sample answers and answer latency on the seed articles: `python benchmarks/seed_answers.py`.

Builds a fresh index of seeds/ in a temporary directory, times the ingest, warms the model up with one
question, then asks ten fixed questions and prints each answer with its citations and the p50 latencies.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from qa import Assistant, Settings

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "How many F-16s is the Netherlands sending?",
    "Who brokered the prisoner exchange?",
    "How many Ukrainians were released in the exchange?",
    "How many drones did Russia launch?",
    "When was the missile attack on Kyiv?",
    "How many people died in Kyiv?",
    "How many tanks did Germany send?",
    "How many prisoners could Ukraine bring home according to Zelensky?",
    "What does Russia plan to buy from Iran?",
    "What is the capital of France?",
]


def main() -> None:
    with tempfile.TemporaryDirectory() as index:
        assistant = Assistant(Settings(index_dir=Path(index), backend="embedded"))
        started = time.perf_counter()
        report = assistant.ingest([ROOT / "seeds"])
        print(
            f"ingest seeds/: {report.added} articles, {report.chunks} chunks, "
            f"{time.perf_counter() - started:.1f} s (embedding model load included)"
        )
        assistant.ask("warm-up: how many F-16s?")
        totals, retrieves = [], []
        for question in QUESTIONS:
            answer = assistant.ask(question)
            totals.append(answer.timings_ms.total)
            retrieves.append(answer.timings_ms.retrieve)
            cites = "; ".join(f"[{c.n}] {Path(c.source).name} “{c.quote[:70]}”" for c in answer.citations)
            flag = " (refused)" if answer.refused else ""
            print(f"- {question} → {answer.answer[:140]}{flag} | {cites} | {answer.timings_ms.total / 1000:.1f} s")
        print(
            f"p50 answer {statistics.median(totals):.0f} ms · p50 retrieve {statistics.median(retrieves):.0f} ms "
            f"· backend {answer.backend} ({answer.model})"
        )


if __name__ == "__main__":
    main()
