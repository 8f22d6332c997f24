"""Check evals/seeds.jsonl against the seed articles: `python3 evals/check_seeds.py`.

Stdlib only, no arguments; paths are resolved relative to this file. Prints a one-line summary with the
number of cases per type and exits non-zero (after listing every problem) if anything is wrong.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATASET = HERE / "seeds.jsonl"
SEEDS = HERE.parent / "seeds"
DOCS = ("000_bf24438c6b7f9f23.txt", "002_0ef0543dc155b7a5.txt")

KEYS = ["id", "question", "type", "answers", "evidence", "doc", "answerable"]
TYPES = ("number", "fact", "multi_doc", "date", "unanswerable", "false_premise", "injection")
MINIMUMS = {"number": 20, "fact": 12, "multi_doc": 5, "date": 6, "unanswerable": 14, "false_premise": 4, "injection": 3}
MIN_CASES = 64
EVIDENCE_WORDS = (5, 40)
COPY_NGRAM = 7  # a question sharing this many consecutive words with an article is not a paraphrase

NUMBER_WORDS = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
    "twenty": "20",
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "sixty": "60",
    "seventy": "70",
    "eighty": "80",
    "ninety": "90",
    "hundred": "100",
}


def normalise(text: str) -> str:
    """Lower-case, drop thousands separators and punctuation, map number words to digits."""
    text = text.lower().replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    words = re.sub(r"[^\w]+", " ", text).split()
    return " ".join(NUMBER_WORDS.get(word, word) for word in words)


def contains(haystack: str, needle: str) -> bool:
    needle = normalise(needle)
    return bool(needle) and f" {needle} " in f" {normalise(haystack)} "


def main() -> int:
    problems: list[str] = []
    texts = {}
    for name in DOCS:
        try:
            texts[name] = (SEEDS / name).read_text(encoding="utf-8")
        except OSError as error:
            problems.append(f"cannot read seed article {name}: {error}")
    article_words = {name: normalise(text).split() for name, text in texts.items()}
    article_ngrams = {
        " ".join(words[i : i + COPY_NGRAM]) for words in article_words.values() for i in range(len(words))
    }

    cases = []
    try:
        lines = DATASET.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        print(f"FAIL: cannot read {DATASET}: {error}")
        return 1
    for number, line in enumerate(lines, 1):
        if not line.strip():
            problems.append(f"line {number}: blank line")
            continue
        try:
            case = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(f"line {number}: not JSON ({error})")
            continue
        if not isinstance(case, dict):
            problems.append(f"line {number}: not a JSON object")
            continue
        cases.append((number, case))

    ids: Counter[str] = Counter()
    questions: Counter[str] = Counter()
    types: Counter[str] = Counter()
    type_order: list[str] = []
    for number, case in cases:
        where = f"line {number} ({case.get('id', '?')})"
        if list(case) != KEYS:
            problems.append(f"{where}: keys are {list(case)}, expected exactly {KEYS}")
            if set(case) != set(KEYS):
                continue
        cid, question, ctype = case["id"], case["question"], case["type"]
        answers, evidence, doc, answerable = case["answers"], case["evidence"], case["doc"], case["answerable"]
        if not isinstance(cid, str) or not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", cid):
            problems.append(f"{where}: id must be a lower-case slug")
        ids[str(cid)] += 1
        if not isinstance(question, str) or not question.strip():
            problems.append(f"{where}: empty question")
            question = ""
        questions[question.strip().lower()] += 1
        if ctype not in TYPES:
            problems.append(f"{where}: unknown type {ctype!r}")
            continue
        types[ctype] += 1
        if not type_order or type_order[-1] != ctype:
            type_order.append(ctype)
        if not isinstance(answerable, bool):
            problems.append(f"{where}: answerable must be true or false")
        if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
            problems.append(f"{where}: answers must be a list of non-empty strings")
            answers = []
        if not isinstance(evidence, list) or not all(isinstance(e, str) and e.strip() for e in evidence):
            problems.append(f"{where}: evidence must be a list of non-empty strings")
            evidence = []
        if len({answer.strip().lower() for answer in answers}) != len(answers):
            problems.append(f"{where}: duplicate answers")

        words = normalise(question).split()
        copied = [" ".join(words[i : i + COPY_NGRAM]) for i in range(len(words) - COPY_NGRAM + 1)]
        copied = [gram for gram in copied if gram in article_ngrams]
        if copied:
            problems.append(f"{where}: question copies the article verbatim ({copied[0]!r}); paraphrase it")

        # doc field
        if ctype == "multi_doc":
            if not (isinstance(doc, list) and sorted(doc) == sorted(DOCS)):
                problems.append(f"{where}: multi_doc doc must list both seed files")
                continue
            docs = list(doc)
        elif doc is None:
            docs = []
        elif isinstance(doc, str) and doc in DOCS:
            docs = [doc]
        else:
            problems.append(f"{where}: doc must be one of {DOCS} or null, got {doc!r}")
            continue

        if ctype == "unanswerable" and answerable is not False:
            problems.append(f"{where}: unanswerable cases must have answerable=false")
        if answerable is False:
            if answers or evidence or doc is not None:
                problems.append(f"{where}: answerable=false needs answers=[], evidence=[] and doc=null")
            continue

        # answerable cases
        if not answers:
            problems.append(f"{where}: answerable case without answers")
        if not evidence:
            problems.append(f"{where}: answerable case without evidence")
        if not docs:
            problems.append(f"{where}: answerable case without a doc")
            continue
        used_docs = set()
        for quote in evidence:
            count = len(quote.split())
            if not EVIDENCE_WORDS[0] <= count <= EVIDENCE_WORDS[1]:
                problems.append(f"{where}: evidence quote has {count} words (want {EVIDENCE_WORDS}): {quote!r}")
            found = [name for name in docs if name in texts and quote in texts[name]]
            if not found:
                problems.append(f"{where}: evidence is not a verbatim substring of {docs}: {quote!r}")
            used_docs.update(found)
        if ctype == "multi_doc" and used_docs and used_docs != set(DOCS):
            problems.append(f"{where}: multi_doc evidence should quote both articles, quotes only {sorted(used_docs)}")
        if answers and evidence and not any(contains(quote, answer) for quote in evidence for answer in answers):
            problems.append(f"{where}: no accepted answer occurs in any evidence quote")

    for cid, count in ids.items():
        if count > 1:
            problems.append(f"id {cid!r} used {count} times")
    for question, count in questions.items():
        if count > 1:
            problems.append(f"question {question!r} used {count} times")
    if len(cases) < MIN_CASES:
        problems.append(f"only {len(cases)} cases, want at least {MIN_CASES}")
    for ctype, minimum in MINIMUMS.items():
        if types[ctype] < minimum:
            problems.append(f"only {types[ctype]} {ctype} cases, want at least {minimum}")
    if len(type_order) != len(set(type_order)):
        problems.append(f"cases are not grouped by type: {' > '.join(type_order)}")

    summary = " ".join(f"{ctype}={types[ctype]}" for ctype in TYPES)
    answerable_count = sum(1 for _, case in cases if case.get("answerable") is True)
    for problem in problems:
        print(f"- {problem}")
    status = "FAIL" if problems else "OK"
    print(
        f"{status}: {len(cases)} cases ({answerable_count} answerable), {summary}"
        + (f", {len(problems)} problem(s)" if problems else "")
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
