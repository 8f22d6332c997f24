"""Answers from a local Ollama server, through the `ollama` client.

Whatever goes wrong on the way (nothing listening, a proxy or another program answering with HTML, a stream that
breaks off or drips one token every few seconds) becomes one `BackendError` line saying what happened and what to
do; `QA_OLLAMA_TIMEOUT` is a deadline for the whole answer, not for each read.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx

from qa.errors import BackendError, BackendUnreachableError
from qa.generation.prompts import Prompt

_DONE = object()


def _unreachable(host: str) -> BackendError:
    return BackendUnreachableError(
        f"Cannot reach Ollama at {host} — start it with `ollama serve`, set OLLAMA_HOST to where it "
        "runs, or use --backend embedded"
    )


def _missing(host: str, model: str) -> BackendError:
    return BackendError(
        f"Ollama at {host} has no model {model!r} — run `ollama pull {model}`, or set QA_OLLAMA_MODEL "
        "to a model it has (`ollama list`)"
    )


def _one_line(text: object, limit: int = 160) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _failure(exc: Exception, host: str, model: str, timeout: float) -> BackendError:
    """The one-line error for anything the client raised while talking to the server."""
    import ollama

    if isinstance(exc, BackendError):
        return exc
    if isinstance(exc, ConnectionError | httpx.ConnectError):
        return _unreachable(host)
    if isinstance(exc, httpx.TimeoutException):
        return _too_slow(host, timeout)
    if isinstance(exc, httpx.TransportError):
        return BackendError(f"Lost the connection to Ollama at {host} ({_one_line(exc)}); try again")
    if isinstance(exc, ollama.ResponseError):
        if exc.status_code == 404 and "not found" in str(exc.error).lower():
            return _missing(host, model)
        status = f" (HTTP {exc.status_code})" if exc.status_code not in (None, -1) else ""
        return BackendError(f"Ollama at {host} failed{status}: {_one_line(exc.error)}")
    # A reply that is not Ollama's API: not JSON, JSON of another shape, a part missing its fields.
    return BackendError(
        f"The server at {host} did not answer like Ollama ({type(exc).__name__}: {_one_line(exc)}); check that "
        "OLLAMA_HOST points at an Ollama server, or use --backend embedded"
    )


def _too_slow(host: str, timeout: float) -> BackendError:
    return BackendError(
        f"Ollama at {host} did not answer within {timeout:g} s — the model may still be loading; try again, "
        "raise QA_OLLAMA_TIMEOUT, or use a smaller model"
    )


def _matches(wanted: str, available: str) -> bool:
    # "llama3.2" means "llama3.2:latest" to Ollama.
    if ":" not in wanted:
        wanted += ":latest"
    if ":" not in available:
        available += ":latest"
    return wanted == available


class OllamaLLM:
    """An instruction model served by Ollama."""

    backend = "ollama"

    def __init__(self, host: str, model: str, timeout: float = 120.0) -> None:
        import ollama

        self.host = host
        self.model = model
        self.timeout = timeout
        self._client = ollama.Client(host=host, timeout=timeout)

    def models(self) -> list[str]:
        """Names of the models the server has; BackendError when it does not answer, or not like Ollama."""
        try:
            listing = self._client.list()
            return [str(m.model) for m in listing.models if m.model]
        except Exception as exc:
            raise _failure(exc, self.host, self.model, self.timeout) from None

    def has_model(self, names: list[str] | None = None) -> bool:
        return any(_matches(self.model, name) for name in (self.models() if names is None else names))

    def stream(self, prompt: Prompt, *, max_tokens: int) -> Iterator[str]:
        """The answer as it streams in, until `timeout` seconds after the request at the latest.

        The client's own timeout applies to each read, so a server sending a token every few seconds would never
        time out; the stream is read on a worker thread instead, and the caller waits for each piece only until
        the deadline. A worker left behind ends at its next read or at the client's read timeout.
        """
        messages = [{"role": "system", "content": prompt.system}, {"role": "user", "content": prompt.user}]
        options: dict[str, Any] = {"temperature": 0, "num_predict": max_tokens, "seed": 0}
        deadline = time.monotonic() + self.timeout
        pieces: queue.Queue[object] = queue.Queue()
        abandoned = threading.Event()

        def read() -> None:
            try:
                for part in self._client.chat(model=self.model, messages=messages, stream=True, options=options):
                    if abandoned.is_set():
                        return
                    pieces.put((part.message.content if part.message else None) or "")
                pieces.put(_DONE)
            except Exception as exc:
                pieces.put(exc)

        threading.Thread(target=read, name="qa-ollama-stream", daemon=True).start()
        try:
            while True:
                try:
                    piece = pieces.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    raise _too_slow(self.host, self.timeout) from None
                if piece is _DONE:
                    return
                if isinstance(piece, Exception):
                    raise _failure(piece, self.host, self.model, self.timeout) from None
                if piece:
                    yield str(piece)
        finally:
            abandoned.set()
