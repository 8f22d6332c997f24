"""Model backends and the choice between them."""

from __future__ import annotations

from dataclasses import dataclass

from qa.backends.base import LLM
from qa.backends.embedded import EmbeddedLLM
from qa.backends.ollama import OllamaLLM
from qa.errors import BackendError, ConfigError
from qa.settings import Settings

__all__ = ["LLM", "BackendChoice", "EmbeddedLLM", "OllamaLLM", "choose_backend"]


@dataclass(frozen=True)
class BackendChoice:
    llm: LLM
    note: str | None  # why this backend, when it is not the one the user might expect


def _embedded(settings: Settings) -> EmbeddedLLM:
    return EmbeddedLLM(settings.embedded_model_path, settings.embedded_context, settings.threads)


def choose_backend(settings: Settings, backend: str | None = None) -> BackendChoice:
    """The backend to answer with: as configured, or for 'auto', Ollama when it is up and has the model."""
    backend = backend or settings.backend
    if backend == "embedded":
        return BackendChoice(_embedded(settings), None)
    if backend == "ollama":
        return BackendChoice(OllamaLLM(settings.ollama_host, settings.ollama_model, settings.ollama_timeout), None)
    if backend != "auto":
        raise ConfigError(f"backend must be 'auto', 'ollama' or 'embedded', got {backend!r}")
    probe = OllamaLLM(settings.ollama_host, settings.ollama_model, settings.ollama_probe_timeout)
    try:
        if probe.has_model():
            return BackendChoice(OllamaLLM(settings.ollama_host, settings.ollama_model, settings.ollama_timeout), None)
        model = settings.ollama_model
        reason = f"Ollama at {settings.ollama_host} has no model {model!r} (`ollama pull {model}`)"
    except BackendError:
        reason = f"Ollama is not reachable at {settings.ollama_host}"
    return BackendChoice(_embedded(settings), f"Using the bundled embedded model: {reason}.")
