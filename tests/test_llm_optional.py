"""llama.cpp is an extra (`make llm`): without it the default path answers, and generate mode says how to get it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from qa import Assistant, ModelNotInstalledError

QUESTION = "How many prisoners did Ukraine and Russia exchange?"


@pytest.fixture
def no_llama(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules is how Python marks a module as not importable: `import llama_cpp` raises ImportError and
    # importlib.util.find_spec returns None, as on a machine where the extra was never installed.
    monkeypatch.setitem(sys.modules, "llama_cpp", None)


@pytest.mark.usefixtures("no_llama")
def test_default_answers_quote_the_evidence_without_llama(seeded: Assistant) -> None:
    answer = seeded.using(backend="embedded").ask(QUESTION)
    assert answer.mode == "extract" and not answer.refused and answer.citations


@pytest.mark.usefixtures("no_llama")
def test_generate_with_the_embedded_model_names_the_command_that_installs_it(seeded: Assistant) -> None:
    with pytest.raises(ModelNotInstalledError, match=r"llama\.cpp, which is not installed: run `make llm`") as err:
        seeded.using(backend="embedded").ask(QUESTION, mode="generate")
    assert "\n" not in str(err.value)


@pytest.mark.usefixtures("no_llama")
def test_auto_quotes_the_passages_when_a_named_gguf_cannot_run(seeded: Assistant, tmp_path: Path) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")  # never read: the missing runtime is found before any model file is opened
    answer = seeded.using(backend="embedded", embedded_model_path=gguf).ask(QUESTION, mode="auto")
    assert answer.mode == "extract" and answer.citations
    assert answer.note is not None and "make llm" in answer.note


@pytest.mark.usefixtures("no_llama")
def test_status_says_answers_quote_the_evidence_until_llama_is_installed(seeded: Assistant) -> None:
    status = seeded.using(backend="embedded").status()
    assert status.backend == "embedded"
    assert status.note is not None and "`make llm`" in status.note


def test_status_has_no_install_note_when_llama_is_installed(seeded: Assistant) -> None:
    pytest.importorskip("llama_cpp", reason="the llm extra is not installed; run `make llm`")
    status = seeded.using(backend="embedded").status()
    assert status.note is None or "make llm" not in status.note
