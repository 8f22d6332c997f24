"""The contract every answering model satisfies: stream text for a prompt."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from qa.generation.prompts import Prompt


class LLM(Protocol):
    """A language model backend.

    `backend` is "ollama" or "embedded"; `model` names the model as the user would. An instruction
    model takes the chat shape of the prompt, a base model the completion shape: the backend picks.
    """

    backend: str
    model: str

    def stream(self, prompt: Prompt, *, max_tokens: int) -> Iterator[str]:
        """Yield the answer text piece by piece; raise BackendError with the fix on failure."""
        ...
