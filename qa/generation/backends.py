"""Model backends and the choice between them."""

from __future__ import annotations

from dataclasses import dataclass

from qa.errors import BackendError, BackendUnreachableError, ConfigError
from qa.generation.base import LLM
from qa.generation.embedded import EmbeddedLLM, llama_installed
from qa.generation.ollama import OllamaLLM
from qa.settings import Settings

__all__ = ["LLM", "BackendChoice", "EmbeddedLLM", "OllamaLLM", "choose_backend", "fallback"]


_NOT_INSTALLED = "The bundled model is not installed (`make llm`), so answers quote the passages"


@dataclass(frozen=True)
class BackendChoice:
    llm: LLM
    note: str | None  # why this backend, when it is not the one the user might expect
    # Chosen by 'auto': when this Ollama fails before its first token, the embedded model answers instead.
    automatic: bool = False


def _embedded(settings: Settings) -> EmbeddedLLM:
    return EmbeddedLLM(
        settings.embedded_model_path, settings.embedded_context, settings.threads, settings.embedded_timeout
    )


def choose_backend(settings: Settings, backend: str | None = None) -> BackendChoice:
    """The backend to answer with: as configured, or for 'auto', Ollama when it is up and has the model."""
    backend = backend or settings.backend
    if backend == "embedded":
        return BackendChoice(_embedded(settings), None if llama_installed() else f"{_NOT_INSTALLED}.")
    if backend == "ollama":
        return BackendChoice(OllamaLLM(settings.ollama_host, settings.ollama_model, settings.ollama_timeout), None)
    if backend != "auto":
        raise ConfigError(f"backend must be 'auto', 'ollama' or 'embedded', got {backend!r}")
    probe = OllamaLLM(settings.ollama_host, settings.ollama_model, settings.ollama_probe_timeout)
    try:
        if probe.has_model():
            llm = OllamaLLM(settings.ollama_host, settings.ollama_model, settings.ollama_timeout)
            return BackendChoice(llm, None, automatic=True)
        model = settings.ollama_model
        reason = f"Ollama at {settings.ollama_host} has no model {model!r} (`ollama pull {model}`)"
    except BackendError as exc:
        return fallback(settings, exc)
    return fallback(settings, reason)


def fallback(settings: Settings, why: str | BackendError) -> BackendChoice:
    """The embedded model, with a note saying why Ollama is not the one answering."""
    if isinstance(why, BackendUnreachableError):
        why = f"Ollama is not reachable at {settings.ollama_host}"
    reason = str(why).rstrip(".")
    if not llama_installed():
        return BackendChoice(_embedded(settings), f"{reason}; {_NOT_INSTALLED[0].lower()}{_NOT_INSTALLED[1:]}.")
    return BackendChoice(_embedded(settings), f"Using the bundled embedded model: {reason}.")
