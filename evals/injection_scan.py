"""How often the injection detector flags sentences of real news: `python evals/injection_scan.py [ARTICLES]`.

ARTICLES is a JSON lines file (optionally .gz) with a `text` field per line; the default is the RealTimeQA
articles in ../shared. Each article is normalised as ingest does (`qa.text.normalise.clean_text`), split into
sentences as the chunker splits them, and every sentence `qa.text.injection` would mask is printed with its
article's line number and the language of the pattern that caught it, then a summary line. Every flagged
sentence should be a real instruction to an AI; anything else is a false positive to fix in
qa/data/injection.txt.
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from collections import Counter
from pathlib import Path

from qa.ingest.chunking import split_sentences
from qa.text.injection import flagged_spans, matching
from qa.text.normalise import clean_text

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "realtimeqa-2024h1" / "articles.jsonl.gz"


def main(path: Path) -> int:
    opener = gzip.open if path.name.endswith(".gz") else open
    articles = sentences = 0
    flagged: list[tuple[int, str, str]] = []
    started = time.perf_counter()
    with opener(path, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            text = clean_text(str(json.loads(line).get("text") or ""))
            articles += 1
            sentences += len(split_sentences(text))
            for start, end in flagged_spans(text):
                sentence = " ".join(text[start:end].split())
                found = matching(sentence)
                flagged.append((number, found.language if found else "joined lines", sentence))
    elapsed = time.perf_counter() - started
    for number, language, sentence in flagged:
        print(f"line {number} [{language}]: {sentence}")
    languages = ", ".join(f"{k} {v}" for k, v in sorted(Counter(lang for _, lang, _ in flagged).items()))
    per_sentence = elapsed / max(sentences, 1) * 1e6
    print(
        f"{path.name}: {articles} articles, {sentences} sentences, {len(flagged)} flagged"
        f"{f' ({languages})' if languages else ''}; {elapsed:.0f} s ({per_sentence:.0f} µs a sentence)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT))
