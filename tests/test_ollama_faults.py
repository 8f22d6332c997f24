"""A server at OLLAMA_HOST that misbehaves: every fault is one line, the timeout is a deadline, 'auto' falls back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa import Assistant, BackendError, OllamaLLM, SentenceTransformerEmbedder
from qa.generation.prompts import answer_prompt
from tests.conftest import UNREACHABLE_OLLAMA, make_settings
from tests.fake_ollama import FAULTS, FakeOllama

pytestmark = pytest.mark.integration

F16 = "How many F-16s is the Netherlands sending?"


def on(index: Path, embedder: SentenceTransformerEmbedder, url: str, **overrides: object) -> Assistant:
    return Assistant(make_settings(index, ollama_host=url, **overrides), embedder=embedder)


@pytest.mark.parametrize("fault", FAULTS)
def test_a_reply_that_is_not_ollamas_api_is_one_line_error(
    fault: str, seeded_index: Path, embedder: SentenceTransformerEmbedder, ollama: FakeOllama
) -> None:
    ollama.fault = fault
    with pytest.raises(BackendError) as raised:
        on(seeded_index, embedder, ollama.url, backend="ollama").ask(F16)
    message = str(raised.value)
    assert ollama.url in message and "\n" not in message and "Traceback" not in message


@pytest.mark.parametrize("fault", ["html", "http-500", "wrong-shape"])
def test_a_model_list_that_is_not_ollamas_api_is_one_line_error(fault: str, ollama: FakeOllama) -> None:
    ollama.tags_fault = fault
    with pytest.raises(BackendError, match=r"did not answer like Ollama|failed \(HTTP 500\)"):
        OllamaLLM(ollama.url, "llama3.2:3b").models()


def test_the_cli_prints_a_garbled_reply_as_one_line_and_exits_non_zero(seeded_index: Path, ollama: FakeOllama) -> None:
    ollama.fault = "garbage-line"
    qa = str(Path(sys.executable).with_name("qa"))
    done = subprocess.run(
        [qa, "--index", str(seeded_index), "--backend", "ollama", "ask", F16],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("QA_")}, "OLLAMA_HOST": ollama.url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and "did not answer like Ollama" in lines[0]


def test_the_timeout_is_a_deadline_for_the_whole_answer_not_for_each_token(ollama: FakeOllama) -> None:
    ollama.enqueue("The Netherlands is sending eighteen F-16s to Ukraine this year [1].")
    ollama.token_delay = 1.0  # a token a second: ten seconds for the whole reply
    llm = OllamaLLM(ollama.url, "llama3.2:3b", timeout=2.5)
    started = time.monotonic()
    received: list[str] = []
    with pytest.raises(BackendError, match=r"did not answer within 2\.5 s"):
        for piece in llm.stream(answer_prompt("q", []), max_tokens=64):
            received.append(piece)
    # Stopped at the deadline (with room for a loaded machine), not after the ten seconds the reply takes.
    assert time.monotonic() - started < 6
    assert 0 < len(received) < 10


@pytest.mark.parametrize("fault", ["html", "http-500", "garbage-line", "cut"])
def test_auto_answers_with_the_embedded_model_when_ollama_fails_before_its_first_token(
    fault: str, seeded_index: Path, embedder: SentenceTransformerEmbedder, ollama: FakeOllama
) -> None:
    ollama.fault = fault  # the model list is fine, so 'auto' picks Ollama; then its answer breaks
    answer = on(seeded_index, embedder, ollama.url, backend="auto").ask(F16)
    assert answer.backend == "none" and answer.mode == "extract"  # the bundled base model quotes the evidence
    assert "eighteen" in answer.answer.lower() and not answer.refused
    assert answer.note and answer.note.startswith("Using the bundled embedded model:") and ollama.url in answer.note


def test_auto_in_generate_mode_drafts_with_the_embedded_model_when_ollama_fails(
    seeded_index: Path, embedder: SentenceTransformerEmbedder, ollama: FakeOllama
) -> None:
    ollama.fault = "html"
    answer = on(seeded_index, embedder, ollama.url, backend="auto", mode="generate").ask(F16)
    assert answer.backend == "embedded" and answer.note and "did not answer like Ollama" in answer.note


def test_auto_does_not_hide_a_failure_after_ollama_started_answering(
    seeded_index: Path, embedder: SentenceTransformerEmbedder, ollama: FakeOllama
) -> None:
    ollama.fault, ollama.fault_after_first_token = "garbage-line", True
    streamed: list[str] = []
    with pytest.raises(BackendError, match="did not answer like Ollama"):
        on(seeded_index, embedder, ollama.url, backend="auto").ask(F16, on_token=streamed.append)
    assert streamed == ["The "]  # what was shown stays what Ollama said; no second answer is mixed in


def test_auto_in_extract_mode_keeps_the_note_on_why_ollama_is_not_used(
    seeded_index: Path, embedder: SentenceTransformerEmbedder
) -> None:
    answer = on(seeded_index, embedder, UNREACHABLE_OLLAMA, backend="auto", mode="auto").ask(F16)
    assert answer.mode == "extract"
    assert answer.note == f"Using the bundled embedded model: Ollama is not reachable at {UNREACHABLE_OLLAMA}."
