"""Cold starts: `qa ask` and the web UI in fresh processes: `python benchmarks/bench_coldstart.py`.

`qa ask` runs as `python -c <runner> --index DIR ask --json ...`: the runner is the `qa` entry point plus
timestamps (imports done, first query embedding done, first token streamed), so the time from process start
to the start of generation can be told apart from the time to the printed answer. The web UI is `python app.py
--index DIR --port FREE`, timed from process start until `GET /` answers 200, then stopped.
Both on built indexes: the ~1k-chunk cut of the RealTimeQA index and the full copy.
"""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_common import (
    ROOT,
    Section,
    Target,
    Workspace,
    answerable,
    child_env,
    load_now,
    load_questions,
    log,
    part_main,
    secs,
)

TARGET_ASK = 5.0

# The `qa` console script (`from qa.cli.commands import main; main()`) with timestamps on stderr; wall-clock times,
# so the parent can subtract the moment it launched the process.
RUNNER = """
import sys, time
_start = time.time()
import qa, qa.cli.commands
sys.stderr.write(f"@@imported {time.time()}\\n")

def _first(cls, name, mark):
    original = getattr(cls, name, None)
    if original is None:
        return
    def wrapper(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        if not getattr(wrapper, "done", False):
            wrapper.done = True
            sys.stderr.write(f"@@{mark} {time.time()}\\n")
        return result
    setattr(cls, name, wrapper)

def _first_piece(cls):
    original = cls.stream
    def stream(self, prompt, **kwargs):
        first = True
        for piece in original(self, prompt, **kwargs):
            if first:
                first = False
                sys.stderr.write(f"@@first_token {time.time()}\\n")
            yield piece
    cls.stream = stream

_first(qa.SentenceTransformerEmbedder, "embed", "embedded")
_first_piece(qa.EmbeddedLLM)
sys.argv = ["qa", *sys.argv[1:]]
qa.cli.commands.main()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def time_ask(index_dir: Path, question: str, backend: list[str], flags: list[str]) -> dict[str, Any]:
    """One cold `qa ask`: seconds from launch to each mark, to the printed answer and to exit."""
    with tempfile.TemporaryFile(mode="w+") as stderr:
        launched = time.time()
        proc = subprocess.Popen(
            [sys.executable, "-c", RUNNER, "--index", str(index_dir), *backend, "ask", "--json", *flags, question],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=child_env(),
            cwd=ROOT,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        answered = time.time()
        proc.stdout.read()
        code = proc.wait(timeout=600)
        exited = time.time()
        stderr.seek(0)
        errors = stderr.read()
    if code != 0 or not line.startswith("{"):
        raise RuntimeError(f"qa ask {' '.join(flags)} failed (exit {code}):\n{errors[-2000:]}")
    marks = {
        parts[0][2:]: float(parts[1]) - launched
        for parts in (line.split() for line in errors.splitlines() if line.startswith("@@"))
    }
    answer = json.loads(line)
    return {
        "answer_s": answered - launched,
        "exit_s": exited - launched,
        "imported_s": marks.get("imported", math.nan),
        "embedded_s": marks.get("embedded", math.nan),
        "first_token_s": marks.get("first_token", math.nan),
        "retrieve_s": answer["timings_ms"]["retrieve"] / 1000,
        "generate_s": answer["timings_ms"]["generate"] / 1000,
        "mode": answer.get("mode"),
        "backend": answer.get("backend"),
        "refused": answer.get("refused"),
    }


def time_ui(index_dir: Path, timeout: float = 300) -> float:
    """Seconds from launching `app.py` until `GET /` answers 200; the server is stopped afterwards."""
    import httpx

    port = free_port()
    with tempfile.TemporaryFile() as output:
        launched = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--index", str(index_dir), "--port", str(port), "--no-seed"],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=child_env(),
            cwd=ROOT,
        )
        try:
            while time.perf_counter() - launched < timeout:
                if proc.poll() is not None:
                    output.seek(0)
                    raise RuntimeError(f"app.py exited with {proc.returncode}:\n{output.read()[-2000:].decode()}")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                        return time.perf_counter() - launched
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            raise RuntimeError(f"app.py did not answer on port {port} within {timeout:.0f} s")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run(workspace: Workspace) -> Section:
    opts = workspace.opts
    # A question the smallest index holds the answer for (the larger ones hold it too): answered, not refused.
    pool = load_questions(opts.data, 1000)
    question = (answerable(pool, workspace.index(opts.coldstart_sizes[0])) or pool)[0].text
    section = Section("4b. Cold starts")
    section.intro = (
        f'Fresh processes on built indexes, question "{question}". Times are from process launch; '
        '"encoder ready" is the end of the first query embedding (model load included), "first token" the first '
        "piece the bundled model streams; retrieve and answer stage are the answer's own `timings_ms`; load is "
        "the machine's 1-minute load average at launch."
    )
    embedded = ["--backend", "embedded"]
    variants = [
        ("`qa --backend embedded ask --mode extract`", embedded, ["--mode", "extract"]),
        ("`qa --backend embedded ask --mode generate`", embedded, ["--mode", "generate"]),
        ("`qa ask` (defaults: auto backend, auto mode)", [], []),
    ]
    rows, ui_rows, targets = [], [], []
    for number, size in enumerate(opts.coldstart_sizes):
        index_dir = workspace.index(size)
        # The defaults only once, and not in a quick run: with no Ollama they come to the same as extract.
        for name, backend, flags in variants if number == 0 and not opts.quick else variants[:2]:
            log(f"cold start: {name} on the {size} index")
            busy = load_now()
            result = time_ask(index_dir, question, backend, flags)
            start_of_answer = result["first_token_s"] if "generate" in name else result["answer_s"]
            rows.append(
                [
                    f"{name}, {size} index",
                    secs(result["imported_s"]),
                    secs(result["embedded_s"]),
                    secs(result["retrieve_s"]),
                    secs(result["first_token_s"]) if "generate" in name else "–",
                    secs(result["generate_s"]),
                    secs(result["answer_s"]),
                    secs(result["exit_s"]),
                    ("refused" if result["refused"] else "answered") + f" ({result['mode']}, {result['backend']})",
                    busy,
                ]
            )
            if "generate" in name:
                targets.append(
                    Target(
                        f"Cold `qa ask` to start of generation, {size} index",
                        f"≤ {TARGET_ASK:.0f} s",
                        secs(start_of_answer),
                        start_of_answer <= TARGET_ASK,
                    )
                )
            elif "extract" in name:
                targets.append(
                    Target(
                        f"Cold `qa ask --mode extract` to printed answer, {size} index",
                        f"≤ {TARGET_ASK:.0f} s (the generation target, for reference)",
                        secs(start_of_answer),
                        start_of_answer <= TARGET_ASK,
                    )
                )
        log(f"cold start: web UI on the {size} index")
        busy = load_now()
        ui_rows.append([f"`python app.py`, {size} index", secs(time_ui(index_dir)), busy])
    section.table(
        "`qa ask`, seconds from process launch:",
        [
            "Command",
            "Imports done",
            "Encoder ready",
            "Retrieve",
            "First token",
            "Answer stage",
            "Answer printed",
            "Exit",
            "Answer (mode, backend)",
            "Load",
        ],
        rows,
    )
    section.table("Web UI, process launch until `GET /` answers 200:", ["Command", "Time", "Load"], ui_rows)
    section.targets = targets
    section.notes.append(
        "Retrieve includes the first query embedding (so the encoder load) and the BM25 build, which every new "
        "process does once per index (compare part 3's first-query times). The defaults are run on the first "
        "index size only (not with --quick); with no Ollama answering they quote evidence with the bundled model, "
        "like extract."
    )
    return section


if __name__ == "__main__":
    part_main("coldstart", run)
