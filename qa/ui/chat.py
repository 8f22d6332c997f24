"""The chat tab's handlers: ask with the conversation's earlier questions, stream, render.

The Assistant does the work (follow-up rewriting included); this module only moves text between it and the
page. `ask` runs in a worker thread so the model's tokens can be shown as they come.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import escape
from typing import Any

from qa import Answer, Assistant, QAError
from qa.ui import render

Message = dict[str, Any]
REVEAL_STEPS = 12  # an extract-mode answer has no tokens: it is shown in this many growing pieces
REVEAL_PAUSE = 0.03


@dataclass(frozen=True)
class AskOptions:
    """The settings panel's values for one question."""

    top_k: int | None = None
    date_from: str | None = None
    date_to: str | None = None
    backend: str | None = None
    ollama_model: str | None = None
    mode: str | None = None


def assistant_for(assistant: Assistant, ollama_model: str | None) -> Assistant:
    """The assistant that answers with the chosen Ollama model (the shared one when it is the default)."""
    if not ollama_model or ollama_model == assistant.settings.ollama_model:
        return assistant
    return assistant.using(ollama_model=ollama_model)


def stream_ask(ask: Callable[[Callable[[str], None]], Answer]) -> Iterator[str | Answer]:
    """Run `ask(on_token)` in a thread; yield the draft text as tokens arrive, then the Answer."""
    tokens: queue.Queue[str | None] = queue.Queue()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["answer"] = ask(tokens.put)
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc
        finally:
            tokens.put(None)

    threading.Thread(target=work, name="qa-ask", daemon=True).start()
    draft = ""
    while True:
        piece = tokens.get()
        if piece is None:
            break
        draft += piece
        while not tokens.empty():  # catch up: one update per batch of tokens, not per token
            more = tokens.get()
            if more is None:
                tokens.put(None)
                break
            draft += more
        yield draft
    if "error" in outcome:
        raise outcome["error"]
    yield outcome["answer"]


def reveal(text: str, steps: int = REVEAL_STEPS) -> Iterator[str]:
    """Growing prefixes of `text`, word-aligned: display-only streaming for answers that had no tokens."""
    words = text.split(" ")
    size = max(1, -(-len(words) // steps))
    for end in range(size, len(words), size):
        yield " ".join(words[:end])


def respond(
    assistant: Assistant,
    question: str,
    messages: list[Message] | None,
    questions: list[str] | None,
    sections: list[str] | None,
    options: AskOptions,
) -> Iterator[tuple[list[Message], str, list[str], list[str], str]]:
    """One chat turn, as a stream of (messages, textbox, questions, source sections, sources panel)."""
    messages = list(messages or [])
    questions = list(questions or [])
    sections = list(sections or [])
    question = (question or "").strip()
    if not question:
        yield list(messages), "", list(questions), list(sections), panel(sections)
        return
    turn = sum(1 for m in messages if m.get("role") == "assistant") + 1
    messages.append({"role": "user", "content": escape(question)})
    messages.append({"role": "assistant", "content": render.draft_html("Reading the articles…")})
    yield list(messages), "", list(questions), list(sections), panel(sections)

    chosen = assistant_for(assistant, options.ollama_model)

    def ask(on_token: Callable[[str], None]) -> Answer:
        return chosen.ask(
            question,
            top_k=options.top_k,
            date_from=options.date_from or None,
            date_to=options.date_to or None,
            backend=options.backend,
            mode=options.mode,
            on_token=on_token,
            history=questions,
        )

    answer: Answer | None = None
    streamed = False
    try:
        for item in stream_ask(ask):
            if isinstance(item, Answer):
                answer = item
            else:
                streamed = True
                messages[-1] = {"role": "assistant", "content": render.draft_html(item)}
                yield list(messages), "", list(questions), list(sections), panel(sections)
    except QAError as exc:
        messages[-1] = {"role": "assistant", "content": render.error_html(str(exc))}
        yield list(messages), "", list(questions), list(sections), panel(sections)
        return
    assert answer is not None
    if not streamed and not answer.refused:
        for prefix in reveal(answer.answer):
            messages[-1] = {"role": "assistant", "content": render.draft_html(prefix)}
            yield list(messages), "", list(questions), list(sections), panel(sections)
            time.sleep(REVEAL_PAUSE)
    questions.append(answer.standalone_question or question)
    sections.append(render.sources_html(answer, turn))
    messages[-1] = {"role": "assistant", "content": render.answer_html(answer, turn)}
    yield list(messages), "", list(questions), list(sections), panel(sections)


def panel(sections: list[str]) -> str:
    """The sources panel: the latest answer's cards first, older ones below (their links keep working)."""
    if not sections:
        return '<div class="qa-note">Sources of the answers appear here: one card per cited passage.</div>'
    return "".join(reversed(sections))


def backend_status(assistant: Assistant, backend: str | None, mode: str | None, ollama_model: str | None) -> str:
    """The indicator of the backend and model that will answer, and why, for the chosen settings."""
    chosen = assistant_for(assistant, ollama_model)
    try:
        choice = chosen.backend(backend)
        resolved, _ = chosen.resolve_mode(mode, backend)
    except QAError as exc:
        return render.error_html(str(exc))
    note = choice.note
    if resolved == "extract":
        extra = "Extract mode: answers quote the evidence sentences of the articles; no model writes them."
        note = f"{note} {extra}" if note else extra
    return render.backend_html(choice.llm.backend, choice.llm.model, resolved, note)


def ollama_models(assistant: Assistant, current: str | None) -> tuple[list[str], str]:
    """Models Ollama lists, for the model picker, and a line saying what was found."""
    try:
        models = assistant.ollama_models()
    except QAError as exc:
        return ([current] if current else []), str(exc)
    note = f"Ollama at {assistant.settings.ollama_host} has {len(models)} model(s)."
    if current and current not in models:
        models = [current, *models]
        note += f" It has no {current!r}: pick one of its models."
    return models, note
