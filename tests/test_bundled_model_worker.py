"""The bundled model runs in a worker process: a crash or a hang of llama.cpp is one line, never the whole product.

Issue 23: on CPUs with AMX, llama.cpp built natively crashed the process that loaded it. These tests run the build
the Makefile makes, then kill or freeze the real worker mid-answer and check what the user gets.
"""

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from qa import Assistant, EmbeddedLLM, ModelStoppedError
from qa.generation.embedded import bundled_gguf, worker_pid
from qa.generation.prompts import answer_prompt
from tests.conftest import ROOT, SEEDS, UNREACHABLE_OLLAMA

pytestmark = pytest.mark.slow

QUESTION = "How many drones did Russia launch?"


def test_the_makefile_build_completes_the_reproduction_of_issue_23() -> None:
    # Run apart from pytest: were the build to crash, it would take this child down, not the test run.
    code = (
        "from llama_cpp import Llama\n"
        f"m = Llama(model_path={str(bundled_gguf())!r}, n_ctx=512, n_threads=2, verbose=False)\n"
        "print(m.create_completion('The capital of France is', max_tokens=8)['choices'][0]['text'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip()


def _kill_worker_on_first_piece(sig: int, llm: EmbeddedLLM) -> tuple[list[str], Callable[[str], None]]:
    pieces: list[str] = []

    def on_token(piece: str) -> None:
        if not pieces:
            pid = worker_pid(llm._path, llm.context, llm.threads)
            assert pid is not None
            os.kill(pid, sig)
        pieces.append(piece)

    return pieces, on_token


def test_a_worker_killed_mid_answer_is_one_line_and_the_next_question_gets_a_new_one(seeded: Assistant) -> None:
    llm = EmbeddedLLM(context=seeded.settings.embedded_context, threads=seeded.settings.threads)
    prompt = answer_prompt(QUESTION, seeded.retrieve(QUESTION))
    with pytest.raises(ModelStoppedError) as stopped:
        for n, _ in enumerate(llm.stream(prompt, max_tokens=64)):
            if n == 0:
                pid = worker_pid(None, llm.context, llm.threads)
                assert pid is not None
                os.kill(pid, signal.SIGSEGV)
    message = str(stopped.value)
    assert message.startswith("The bundled model stopped: killed by SIGSEGV")
    assert "\n" not in message
    # This process is alive (we are here) and the next question starts a fresh worker.
    assert "".join(llm.stream(prompt, max_tokens=8))


def test_auto_quotes_the_passages_with_a_note_when_the_model_crashes(seeded: Assistant) -> None:
    # A GGUF named by path is not the bundled base model, so 'auto' generates with it rather than quoting.
    drafting = seeded.using(backend="embedded", embedded_model_path=bundled_gguf())
    llm = drafting.backend().llm
    assert isinstance(llm, EmbeddedLLM)
    _, on_token = _kill_worker_on_first_piece(signal.SIGSEGV, llm)
    answer = drafting.ask(QUESTION, mode="auto", on_token=on_token)
    assert answer.mode == "extract" and not answer.refused and answer.citations
    assert answer.note is not None and answer.note.startswith("The bundled model stopped: killed by SIGSEGV")
    assert "\n" not in answer.note


def test_generate_reports_a_model_that_goes_quiet_in_one_line(seeded: Assistant) -> None:
    drafting = seeded.using(backend="embedded", embedded_timeout=3.0)
    llm = drafting.backend().llm
    assert isinstance(llm, EmbeddedLLM)
    _, on_token = _kill_worker_on_first_piece(signal.SIGSTOP, llm)
    with pytest.raises(ModelStoppedError, match=r"^The bundled model stopped: no output for 3 s"):
        drafting.ask(QUESTION, mode="generate", on_token=on_token)
    assert worker_pid(None, llm.context, llm.threads) is None  # the frozen worker was ended, not left behind


def _qa(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "OLLAMA_HOST": UNREACHABLE_OLLAMA, **env},
        cwd=ROOT,
        timeout=600,
    )


def test_cli_survives_a_model_that_cannot_run(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + os.urandom(4096))  # llama.cpp refuses it and its worker exits
    env = {"QA_INDEX_DIR": str(tmp_path / "index"), "QA_EMBEDDED_MODEL_PATH": str(broken)}
    assert _qa("ingest", str(SEEDS), env=env).returncode == 0

    generate = _qa("ask", "--mode", "generate", QUESTION, env=env)
    assert generate.returncode == 1 and "Traceback" not in generate.stderr
    assert generate.stderr.strip().startswith("Error: The embedded model broken.gguf stopped: exited with code 1")
    assert len(generate.stderr.strip().splitlines()) == 1

    auto = _qa("ask", "--json", QUESTION, env=env)
    assert auto.returncode == 0, auto.stderr
    answer = json.loads(auto.stdout)
    assert answer["mode"] == "extract" and not answer["refused"] and answer["citations"]
    assert "broken.gguf stopped" in answer["note"]
