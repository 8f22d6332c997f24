"""Shared pieces of the benchmark suite: data sampling, scratch indexes, timing, machine facts, markdown.

Everything here is cheap to import (no models, no Chroma at import time), so `tests/test_benchmarks.py` can
pin the pure helpers. The suite measures through the public code paths (`qa.Assistant`, the `qa` CLI,
`app.py`); the only index internals it relies on are the two Chroma collections described in qa/index/store.py,
which it copies to build indexes of several sizes without embedding anything again.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "realtimeqa-2024h1"
DEFAULT_FULL_INDEX = Path("~/.cache/newsqa/realtimeqa-2024h1").expanduser()
SEED = 2024
COLLECTION = "articles"  # the default QA_COLLECTION prefix: <prefix>_chunks and <prefix>_catalog


# --- options shared by run.py and every part ---------------------------------------------------------


@dataclass
class Options:
    """What to measure and on how much data; `--quick` shrinks everything to a smoke run."""

    data: Path = DEFAULT_DATA
    full_index: Path = DEFAULT_FULL_INDEX
    ingest_articles: int = 100
    ingest_files: int = 10
    questions: int = 100
    retrieval_sizes: tuple[str, ...] = ("1k", "10k", "full")
    answer_prompts: int = 5
    coldstart_sizes: tuple[str, ...] = ("1k", "full")
    footprint_articles: int = 500
    quick: bool = False
    keep: bool = False
    workdir: Path | None = None


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="realtimeqa-2024h1 folder (read only)")
    parser.add_argument(
        "--full-index",
        type=Path,
        default=DEFAULT_FULL_INDEX,
        help="built index of all articles; copied, never opened in place",
    )
    parser.add_argument("--ingest-articles", type=int, help="articles ingested by the ingest part (default 100)")
    parser.add_argument("--ingest-files", type=int, help="JSON lines files they are spread over (default 10)")
    parser.add_argument("--questions", type=int, help="questions timed per index size (default 100)")
    parser.add_argument("--sizes", help="retrieval index sizes, comma separated: 1k,10k,full (default all)")
    parser.add_argument("--answer-prompts", type=int, help="5-passage prompts streamed by the answer part (5)")
    parser.add_argument("--coldstart-sizes", help="index sizes for the cold starts: 1k,full (default both)")
    parser.add_argument("--footprint-articles", type=int, help="articles the footprint part indexes (default 500)")
    parser.add_argument("--quick", action="store_true", help="smoke run of a minute or two: small sizes only")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (printed at the end)")
    parser.add_argument("--workdir", type=Path, help="scratch directory (default: a new one under $TMPDIR)")


def options_from(args: argparse.Namespace) -> Options:
    quick = bool(args.quick)
    opts = Options(data=args.data, full_index=args.full_index.expanduser(), quick=quick, keep=args.keep)
    if quick:
        opts.ingest_articles, opts.ingest_files, opts.questions, opts.answer_prompts = 8, 4, 20, 1
        opts.retrieval_sizes = ("1k",)
        opts.coldstart_sizes = ("1k",)
        opts.footprint_articles = 20
    opts.footprint_articles = args.footprint_articles or opts.footprint_articles
    opts.ingest_articles = args.ingest_articles or opts.ingest_articles
    opts.ingest_files = args.ingest_files or opts.ingest_files
    opts.questions = args.questions or opts.questions
    opts.answer_prompts = args.answer_prompts or opts.answer_prompts
    if args.sizes:
        opts.retrieval_sizes = tuple(s.strip() for s in args.sizes.split(",") if s.strip())
    if args.coldstart_sizes:
        opts.coldstart_sizes = tuple(s.strip() for s in args.coldstart_sizes.split(",") if s.strip())
    for size in (*opts.retrieval_sizes, *opts.coldstart_sizes):
        size_chunks(size)  # fails early on a typo
    opts.workdir = args.workdir
    return opts


def prepare_environment() -> None:
    """Default settings, offline models: QA_* variables of the caller's shell would skew the figures."""
    for name in [n for n in os.environ if n.startswith("QA_")]:
        del os.environ[name]
    os.environ.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        TRANSFORMERS_VERBOSITY="error",
        TOKENIZERS_PARALLELISM="false",
        GRADIO_ANALYTICS_ENABLED="False",
        ANONYMIZED_TELEMETRY="False",
    )


def child_env() -> dict[str, str]:
    """Environment of the subprocesses: this checkout first on the path, whatever the venv has installed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    return env


# --- data -----------------------------------------------------------------------------------------


def load_articles(data: Path) -> list[dict[str, Any]]:
    with gzip.open(data / "articles.jsonl.gz", "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def sample_articles(data: Path, n: int, seed: int = SEED) -> list[dict[str, Any]]:
    """n articles spread over the whole set (a fixed random sample, kept in file order)."""
    articles = load_articles(data)
    picked = sorted(random.Random(seed).sample(range(len(articles)), min(n, len(articles))))
    return [articles[i] for i in picked]


@dataclass(frozen=True)
class Question:
    text: str
    date: str  # YYYY-MM-DD, the quiz date: the RealTimeQA eval retrieves with date_to=date
    candidates: tuple[str, ...] = ()  # ids of the articles the quiz's search returned
    gold: str = ""  # the right choice's text

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "date": self.date, "candidates": list(self.candidates), "gold": self.gold}


def load_questions(data: Path, n: int) -> list[Question]:
    """n questions evenly spaced over the file, so every week of the half-year is represented."""
    rows = [json.loads(line) for line in (data / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line]
    step = max(1, len(rows) // max(1, n))
    picked = rows[::step][:n]
    return [
        Question(
            " ".join(r["question"].split()),
            r["question_date"].replace("/", "-"),
            tuple(r.get("candidate_article_ids") or ()),
            str((r.get("answer_text") or [""])[0]),
        )
        for r in picked
    ]


def answerable(questions: Sequence[Question], index_dir: Path) -> list[Question]:
    """The questions whose right answer is written in one of their candidate articles that the index holds.

    The index keeps each article's id (its `key`, in the catalog) and whole text, so this needs no retrieval.
    """
    from qa.index.layout import TEXT_KEY, decode_text

    client = open_chroma(index_dir)
    catalog = client.get_collection(f"{COLLECTION}_catalog").get(include=["metadatas"])
    stored = client.get_collection(f"{COLLECTION}_texts").get(include=["metadatas"])
    by_id = {
        i: decode_text(str((m or {}).get(TEXT_KEY, ""))).lower() for i, m in zip(stored["ids"], stored["metadatas"])
    }
    texts = {str((m or {}).get("key", "")): by_id.get(i, "") for i, m in zip(catalog["ids"], catalog["metadatas"])}
    return [q for q in questions if len(q.gold) > 2 and any(q.gold.lower() in texts.get(c, "") for c in q.candidates)]


# --- scratch indexes ------------------------------------------------------------------------------


def size_chunks(size: str) -> int | None:
    """'1k' → 1000, '10k' → 10000, 'full' → None (the whole index)."""
    if size == "full":
        return None
    try:
        return int(float(size.lower().removesuffix("k")) * (1000 if size.lower().endswith("k") else 1))
    except ValueError:
        raise SystemExit(f"index size must look like 1k, 10k, 2500 or full, got {size!r}") from None


class Workspace:
    """A scratch directory holding the indexes the parts share: the full-size copy and subsets of it."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        if opts.workdir:
            opts.workdir.mkdir(parents=True, exist_ok=True)
            self.root = opts.workdir
        else:
            self.root = Path(tempfile.mkdtemp(prefix="newsqa-bench-"))
        self._indexes: dict[str, Path] = {}
        self.notes: list[str] = []

    def index(self, size: str) -> Path:
        """An index directory of about `size` chunks (whole articles), or the copy of the full index."""
        if size in self._indexes:
            return self._indexes[size]
        target = self.root / f"index-{size}"
        if target.exists() and (target / "chroma.sqlite3").exists():
            self._indexes[size] = target
            return target
        chunks = size_chunks(size)
        source = self._full()
        if chunks is None:
            self._indexes[size] = source
            return source
        started = time.perf_counter()
        copied = copy_subset(source, target, chunks)
        log(f"built the {size} index: {copied} chunks copied in {time.perf_counter() - started:.1f} s")
        self._indexes[size] = target
        return target

    def _full(self) -> Path:
        target = self.root / "index-full"
        if not (target / "chroma.sqlite3").exists():
            source = self.opts.full_index
            if not (source / "chroma.sqlite3").exists():
                raise SystemExit(
                    f"No built index at {source}: build it with `qa eval --set realtimeqa` (see evals/README.md) "
                    "or pass --full-index"
                )
            started = time.perf_counter()
            shutil.copytree(source, target)  # the shared index is only ever read, and only through this copy
            log(f"copied the full index ({dir_size(target) / 1e9:.2f} GB) in {time.perf_counter() - started:.1f} s")
        return target

    def close(self) -> None:
        if self.opts.keep or self.opts.workdir:
            log(f"scratch directory kept: {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)


def open_chroma(path: Path) -> Any:
    """A Chroma client on an index directory, opened the way qa opens it (one client per path and process)."""
    from qa import Settings
    from qa.index.chroma import open_client

    return open_client(Settings(index_dir=path, chroma_url=None))


def copy_subset(source: Path, target: Path, chunks: int, seed: int = SEED) -> int:
    """Copy whole articles (their chunks, catalog records and texts, embeddings included) until `chunks` is reached.

    Articles are taken in a fixed random order, so a subset covers the whole half-year like the full index.
    The collections get the names, metadata and distance space of the source, as qa/index/store.py creates them.
    """
    src = open_chroma(source)
    src_chunks = src.get_collection(f"{COLLECTION}_chunks")
    src_catalog = src.get_collection(f"{COLLECTION}_catalog")
    src_texts = src.get_collection(f"{COLLECTION}_texts")
    catalog = src_catalog.get(include=["metadatas"])
    order = list(zip(catalog["ids"], [int((m or {}).get("chunks", 0)) for m in catalog["metadatas"]]))
    random.Random(seed).shuffle(order)
    chosen: list[str] = []
    total = 0
    for doc_id, count in order:
        if total >= chunks:
            break
        chosen.append(doc_id)
        total += count

    dst = open_chroma(target)
    copied = 0
    for src_col in (src_chunks, src_catalog, src_texts):
        space = ((src_col.configuration_json or {}).get("hnsw") or {}).get("space", "cosine")
        dst_col = dst.get_or_create_collection(
            src_col.name,
            metadata=dict(src_col.metadata or {}),
            configuration={"hnsw": {"space": space}},
            embedding_function=None,
        )
        for start in range(0, len(chosen), 100):
            batch = chosen[start : start + 100]
            include: Any = ["embeddings", "metadatas"]
            if src_col is src_chunks:
                page = src_col.get(where={"doc_id": {"$in": batch}}, include=include)
            else:
                page = src_col.get(ids=batch, include=include)
            if page["ids"]:
                dst_col.add(ids=page["ids"], embeddings=page["embeddings"], metadatas=page["metadatas"])
                if src_col is src_chunks:
                    copied += len(page["ids"])
    return copied


# --- measuring ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between ranks, as numpy's default."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """`with stopwatch() as t: ...` then `t[0]` is the elapsed wall time in seconds."""
    elapsed: list[float] = []
    started = time.perf_counter()
    try:
        yield elapsed
    finally:
        elapsed.append(time.perf_counter() - started)


def load_now() -> str:
    """The 1-minute load average, shown next to a timing: on a shared machine it explains most outliers."""
    return f"{os.getloadavg()[0]:.1f}"


def rss_parts_mb() -> dict[str, float]:
    """This process's resident memory now, by kind (Linux /proc/self/status): `anon` (heap, arrays, the models) and
    `file` (pages of memory-mapped files, such as the BM25 cache: the kernel drops them under memory pressure and
    reads them again)."""
    parts = {"anon": math.nan, "file": math.nan}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("RssAnon", "RssFile"):
                parts[name[3:].lower()] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return parts


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run_child(args: Sequence[str], *, timeout: float) -> dict[str, Any]:
    """Run a part's `--child` mode in a fresh interpreter; it prints one JSON object as its last line."""
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=child_env(), cwd=ROOT, timeout=timeout
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout)[-2000:]
        raise RuntimeError(f"child {' '.join(args[:2])} failed (exit {proc.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


# --- machine facts --------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return math.nan


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, str]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain", "--untracked-files=no") else ""
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{_cpu_model()}, {usable} usable cores (nproc), {os.cpu_count()} online",
        "ram": f"{_ram_gb():.1f} GB",
        "load": f"{load} (1/5/15-minute load average at start)",
        "commit": f"{_git('rev-parse', '--short', 'HEAD')} on {_git('rev-parse', '--abbrev-ref', 'HEAD')}{dirty}",
        "python": platform.python_version(),
        "packages": ", ".join(
            f"{p} {_version(p)}"
            for p in (
                "torch",
                "sentence-transformers",
                "chromadb",
                "llama-index-core",
                "llama-index-embeddings-huggingface",
                "bm25s",
                "llama_cpp_python",
                "gradio",
            )
        ),
    }


# --- reporting ------------------------------------------------------------------------------------


@dataclass
class Target:
    """One of the issue's targets next to what was measured."""

    what: str
    target: str
    measured: str
    met: bool | None  # None: not measured in this run

    @property
    def verdict(self) -> str:
        return "not measured" if self.met is None else ("met" if self.met else "**not met**")


@dataclass
class Section:
    """One part's results: tables of figures, the targets it checks, and notes on how it measured."""

    title: str
    intro: str = ""
    tables: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def table(self, caption: str, headers: list[str], rows: list[list[str]]) -> None:
        self.tables.append((caption, headers, rows))

    def markdown(self) -> str:
        parts = [f"## {self.title}", ""]
        if self.intro:
            parts += [self.intro, ""]
        for caption, headers, rows in self.tables:
            if caption:
                parts += [caption, ""]
            parts += [markdown_table(headers, rows), ""]
        if self.targets:
            parts += [targets_table(self.targets), ""]
        parts += [f"- {note}" for note in self.notes]
        if self.notes:
            parts.append("")
        parts.append(f"_This part took {self.seconds / 60:.1f} min._")
        return "\n".join(parts) + "\n"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub table; numbers right-aligned (a header ending in ')' or a cell starting with a digit)."""

    def numeric(col: int) -> bool:
        cells = [r[col] for r in rows if col < len(r) and r[col] not in ("", "–")]
        return bool(cells) and all(c[:1].isdigit() or (c[:1] in "-~≈<>" and c[1:2].isdigit()) for c in cells)

    def clean(cell: str) -> str:
        return cell.replace("|", "\\|").replace("\n", " ")

    aligns = ["---:" if numeric(i) else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(clean(h) for h in headers) + " |", "| " + " | ".join(aligns) + " |"]
    for row in rows:
        cells = [clean(c) for c in row] + [""] * (len(headers) - len(row))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets_table(targets: Sequence[Target]) -> str:
    return markdown_table(
        ["Target", "Wanted", "Measured", "Verdict"], [[t.what, t.target, t.measured, t.verdict] for t in targets]
    )


def ms(seconds: float) -> str:
    return "–" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def secs(seconds: float) -> str:
    return "–" if math.isnan(seconds) else f"{seconds:.1f} s" if seconds >= 10 else f"{seconds:.2f} s"


def ratio(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.2f}×"


def num(value: float, digits: int = 0) -> str:
    return "–" if math.isnan(value) else f"{value:,.{digits}f}"


def write_section(section: Section, out: Path | None) -> None:
    """Print a part's markdown; with --out, also write it as a stand-alone results file."""
    text = section.markdown()
    print(text)
    if out:
        info = machine_info()
        head = [f"# Benchmark: {section.title}", "", *machine_lines(info, " ".join(["python", *sys.argv])), ""]
        out.write_text("\n".join(head) + "\n" + text, encoding="utf-8")
        log(f"wrote {out}")


def machine_lines(info: dict[str, str], command: str) -> list[str]:
    return [
        f"- Date: {info['date']}",
        f"- Machine: {info['cpu']}; {info['ram']} RAM; load {info['load']}",
        f"- Code: commit {info['commit']}; Python {info['python']}",
        f"- Packages: {info['packages']}",
        f"- Command: `{command}`",
    ]


def part_main(name: str, run: Any) -> None:
    """The `main()` of a part run on its own: `python benchmarks/bench_<name>.py [options] [--out FILE]`."""
    parser = argparse.ArgumentParser(description=f"newsqa benchmark, {name} part only")
    add_options(parser)
    parser.add_argument("--out", type=Path, help="also write the results as markdown to this file")
    args = parser.parse_args()
    prepare_environment()
    opts = options_from(args)
    workspace = Workspace(opts)
    try:
        started = time.perf_counter()
        section: Section = run(workspace)
        section.seconds = time.perf_counter() - started
        section.notes += workspace.notes
        write_section(section, args.out)
    finally:
        workspace.close()
