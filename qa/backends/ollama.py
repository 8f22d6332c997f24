"""Answers from a local Ollama server, through the `ollama` client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from qa.errors import BackendError
from qa.prompts import Prompt


def _unreachable(host: str) -> BackendError:
    return BackendError(
        f"Cannot reach Ollama at {host} — start it with `ollama serve`, set OLLAMA_HOST to where it "
        "runs, or use --backend embedded"
    )


def _missing(host: str, model: str) -> BackendError:
    return BackendError(
        f"Ollama at {host} has no model {model!r} — run `ollama pull {model}`, or set QA_OLLAMA_MODEL "
        "to a model it has (`ollama list`)"
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
        """Names of the models the server has; BackendError when it does not answer."""
        import ollama

        try:
            listing = self._client.list()
        except (ConnectionError, httpx.TransportError):
            raise _unreachable(self.host) from None
        except ollama.ResponseError as exc:
            raise BackendError(f"Ollama at {self.host} answered with an error: {exc.error}") from None
        return [str(m.model) for m in listing.models if m.model]

    def has_model(self, names: list[str] | None = None) -> bool:
        return any(_matches(self.model, name) for name in (self.models() if names is None else names))

    def stream(self, prompt: Prompt, *, max_tokens: int) -> Iterator[str]:
        import ollama

        messages = [{"role": "system", "content": prompt.system}, {"role": "user", "content": prompt.user}]
        options: dict[str, Any] = {"temperature": 0, "num_predict": max_tokens, "seed": 0}
        try:
            for part in self._client.chat(model=self.model, messages=messages, stream=True, options=options):
                text = part.message.content if part.message else None
                if text:
                    yield text
        except (ConnectionError, httpx.ConnectError):
            raise _unreachable(self.host) from None
        except httpx.TimeoutException:
            raise BackendError(
                f"Ollama at {self.host} did not answer within {self.timeout:.0f} s — the model may still be "
                "loading; try again, raise QA_OLLAMA_TIMEOUT, or use a smaller model"
            ) from None
        except httpx.TransportError as exc:
            raise BackendError(f"Lost the connection to Ollama at {self.host} ({exc}); try again") from None
        except ollama.ResponseError as exc:
            if exc.status_code == 404 or "not found" in str(exc.error).lower():
                raise _missing(self.host, self.model) from None
            raise BackendError(f"Ollama at {self.host} failed: {exc.error}") from None
