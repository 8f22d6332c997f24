"""The Ollama backend against a loopback server that speaks Ollama's API."""

from pathlib import Path

import pytest

from qa import Assistant, BackendError, OllamaLLM, SentenceTransformerEmbedder
from qa.generation.backends import choose_backend
from qa.generation.prompts import answer_prompt
from tests.conftest import SEED_OVERVIEW, UNREACHABLE_OLLAMA, make_settings
from tests.fake_ollama import FakeOllama

pytestmark = pytest.mark.integration


def ollama_assistant(index: Path, embedder: SentenceTransformerEmbedder, url: str, **kw: object) -> Assistant:
    return Assistant(make_settings(index, ollama_host=url, **kw), embedder=embedder)


def test_auto_uses_ollama_when_it_has_the_model(ollama: FakeOllama) -> None:
    choice = choose_backend(make_settings(Path("unused"), ollama_host=ollama.url))
    assert (choice.llm.backend, choice.llm.model, choice.note) == ("ollama", "llama3.2:3b", None)


def test_auto_falls_back_to_the_embedded_model_and_says_why(ollama: FakeOllama) -> None:
    missing = choose_backend(make_settings(Path("unused"), ollama_host=ollama.url, ollama_model="qwen3:8b"))
    assert missing.llm.backend == "embedded" and "ollama pull qwen3:8b" in (missing.note or "")
    down = choose_backend(make_settings(Path("unused"), ollama_host=UNREACHABLE_OLLAMA))
    assert down.llm.backend == "embedded" and "not reachable" in (down.note or "")


def test_a_model_tag_defaults_to_latest_like_ollama_does(ollama: FakeOllama) -> None:
    ollama.models = ["mistral:latest"]
    assert OllamaLLM(ollama.url, "mistral").has_model()


def test_ollama_answers_with_streamed_chat_and_citations(
    seeded_index: Path, embedder: SentenceTransformerEmbedder, ollama: FakeOllama
) -> None:
    assistant = ollama_assistant(seeded_index, embedder, ollama.url, backend="ollama")
    streamed: list[str] = []
    answer = assistant.ask("How many F-16s is the Netherlands sending?", on_token=streamed.append)
    assert len(streamed) > 1 and answer.backend == "ollama" and answer.model == "llama3.2:3b"
    assert not answer.refused and [c.n for c in answer.citations] == [1]
    assert answer.citations[0].quote in answer.citations[0].text
    request = ollama.requests[-1]
    assert request["path"] == "/api/chat" and request["options"]["temperature"] == 0
    assert request["messages"][0]["role"] == "system" and "[1]" in request["messages"][1]["content"]


def test_citations_to_passages_that_do_not_exist_are_dropped(
    seeded_index: Path, embedder: SentenceTransformerEmbedder, ollama: FakeOllama
) -> None:
    ollama.enqueue("The Netherlands is sending eighteen F-16s [1][9].")
    answer = ollama_assistant(seeded_index, embedder, ollama.url, backend="ollama").ask("Netherlands F-16s?")
    # After the reader's short answer that leads it ("eighteen F-16s [1]. "), the drafted sentence without [9].
    assert answer.answer.endswith(" The Netherlands is sending eighteen F-16s [1].") and "[9]" not in answer.answer
    assert [c.n for c in answer.citations] == [1]
    assert Path(answer.citations[0].source).name == SEED_OVERVIEW


def test_the_cannot_answer_sentence_marks_the_answer_refused(
    seeded_index: Path, embedder: SentenceTransformerEmbedder, ollama: FakeOllama
) -> None:
    ollama.enqueue("The articles do not answer this question.")
    answer = ollama_assistant(seeded_index, embedder, ollama.url, backend="ollama").ask("Did Norway send tanks?")
    assert answer.refused and answer.citations == []


def test_a_missing_model_error_says_how_to_pull_it(
    seeded_index: Path, embedder: SentenceTransformerEmbedder, ollama: FakeOllama
) -> None:
    assistant = ollama_assistant(seeded_index, embedder, ollama.url, backend="ollama", ollama_model="phi4")
    with pytest.raises(BackendError, match="ollama pull phi4"):
        assistant.ask("How many F-16s is the Netherlands sending?")


def test_an_unreachable_server_error_says_how_to_start_it() -> None:
    llm = OllamaLLM(UNREACHABLE_OLLAMA, "llama3.2:3b")
    with pytest.raises(BackendError, match="ollama serve"):
        list(llm.stream(answer_prompt("q", []), max_tokens=8))
    with pytest.raises(BackendError, match="ollama serve"):
        llm.models()


def test_a_slow_server_times_out_with_a_clear_message(ollama: FakeOllama) -> None:
    ollama.delay = 2.0
    llm = OllamaLLM(ollama.url, "llama3.2:3b", timeout=0.5)
    with pytest.raises(BackendError, match="did not answer within"):
        list(llm.stream(answer_prompt("q", []), max_tokens=8))
