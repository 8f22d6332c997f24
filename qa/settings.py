"""One settings object for the whole assistant, read from `QA_*` environment variables."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BUNDLED_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
BUNDLED_LLM_MODEL = "gemma-3-270m (bundled, Q4_K_M)"
_COLLECTION_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,399}")


class Settings(BaseSettings):
    """Where the index lives, which models answer, and how passages are picked.

    Every field can be set from the environment as `QA_<FIELD>` (upper case), except the Ollama host,
    which follows Ollama's own `OLLAMA_HOST` so an existing Ollama setup just works.
    """

    model_config = SettingsConfigDict(env_prefix="QA_", extra="forbid", validate_default=True, populate_by_name=True)

    index_dir: Path = Field(
        Path("index"), description="Directory of the on-disk Chroma index (created on first ingest)."
    )
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (http://host:port). When set, the index lives there "
        "instead of in index_dir.",
    )
    collection: str = Field(
        "articles",
        description="Name prefix of the Chroma collections (<prefix>_chunks, <prefix>_catalog): several "
        "indexes can share one Chroma server under different prefixes.",
    )

    backend: Literal["auto", "ollama", "embedded"] = Field(
        "auto",
        description="Which model answers: 'ollama' (a local Ollama server), 'embedded' (the bundled "
        "Gemma 3 270M via llama.cpp), or 'auto' (Ollama when it answers and has the model).",
    )
    ollama_host: str = Field(
        "http://127.0.0.1:11434",
        validation_alias=AliasChoices("OLLAMA_HOST", "QA_OLLAMA_HOST", "ollama_host"),
        description="Ollama server address; read from OLLAMA_HOST like Ollama's own tools.",
    )
    ollama_model: str = Field("llama3.2:3b", description="Ollama model that answers questions.")
    ollama_timeout: float = Field(120.0, gt=0, description="Seconds to wait for Ollama to answer.")
    ollama_probe_timeout: float = Field(
        1.5, gt=0, description="Seconds 'auto' waits for Ollama before using the embedded model."
    )

    embedded_model_path: Path | None = Field(
        None,
        description="GGUF file for the embedded backend; default: the bundled Gemma 3 270M.",
    )
    embedded_context: int = Field(4096, ge=512, description="Context window (tokens) of the embedded model.")
    threads: int | None = Field(None, ge=1, description="CPU threads for the embedded model; default: all cores.")
    max_answer_tokens: int = Field(200, ge=16, description="Longest answer the model may write, in tokens.")

    embedding_model: str = Field(
        BUNDLED_EMBEDDING_MODEL,
        description="Sentence-transformers model: the bundled 'all-MiniLM-L6-v2' or a local model path.",
    )
    embedding_backend: Literal["onnx", "torch"] = Field(
        "onnx",
        description="How the embedding model runs: 'onnx' (exported once to ~/.cache/newsqa/onnx and run by "
        "onnxruntime, about 1.5x faster on CPU) or 'torch' (sentence-transformers). Both give the same vectors "
        "(cosine >= 0.999), so an index built with one is queried with the other; 'onnx' falls back to torch, "
        "with a warning, when the model cannot be exported.",
    )
    embed_batch_size: int = Field(64, ge=1, description="Chunks embedded per batch.")
    chunk_tokens: int = Field(
        200,
        ge=32,
        description="Most word pieces per chunk, title included; must fit the embedding window (256).",
    )
    chunk_overlap_sentences: int = Field(
        1, ge=0, le=3, description="Sentences repeated at the start of the next chunk for context."
    )
    max_file_mb: float = Field(50.0, gt=0, description="Files larger than this are skipped as oversized.")
    lock_timeout: float = Field(
        300.0,
        ge=0,
        description="Seconds a write (ingest, remove, repair) waits for another process writing to the same index "
        "before it gives up.",
    )
    upload_max_mb: float = Field(
        10.0, gt=0, description="Largest article file the web UI accepts as an upload, in megabytes."
    )
    upload_types: tuple[str, ...] = Field(
        (".txt", ".md", ".html", ".htm", ".jsonl"),
        description="File name endings the web UI accepts as uploads (a JSON list in QA_UPLOAD_TYPES).",
    )
    upload_dir: Path | None = Field(
        None,
        description="Where the web UI keeps uploaded articles; default: an 'uploads' folder in index_dir, or "
        "with a Chroma server a folder per server and collection in the user's cache (~/.cache/newsqa/uploads).",
    )
    ui_host: str = Field("127.0.0.1", description="Address the web UI listens on (loopback: this machine only).")
    ui_port: int = Field(7860, ge=1, le=65535, description="Port the web UI listens on.")

    top_k: int = Field(5, ge=1, le=50, description="Passages given to the model.")
    candidates: int = Field(30, ge=1, description="Candidates taken from each retriever before fusion.")
    per_article: int = Field(2, ge=1, description="Most passages from one article in an answer's context.")
    min_relevance: float = Field(
        0.30,
        ge=-1.0,
        le=1.0,
        description="Cosine similarity the best passage must reach; below it the assistant refuses "
        "without asking the model.",
    )
    mode: Literal["auto", "generate", "extract"] = Field(
        "auto",
        description="'generate': the model drafts, every sentence is verified against the passages, unsupported "
        "ones are removed, and the answer falls back to quoting evidence; 'extract': quote the evidence only; "
        "'auto': generate with Ollama or a GGUF of your own, extract with the bundled base model, whose "
        "verified drafts score below plain quotes on the eval set (evals/README.md).",
    )
    min_evidence: float = Field(
        0.60,
        ge=0.0,
        le=2.0,
        description="Score the best evidence sentence must reach (cosine to the question + key-word share "
        "+ shape bonus); below it the articles do not answer. Calibrated on evals/seeds.jsonl.",
    )
    min_support: float = Field(
        0.55,
        ge=-1.0,
        le=1.0,
        description="Cosine similarity an answer sentence needs to a sentence of the passage it cites.",
    )

    @field_validator("ollama_host")
    @classmethod
    def _normalise_host(cls, value: str) -> str:
        # OLLAMA_HOST is often written as "host:port" or "0.0.0.0"; the HTTP client wants a URL.
        value = value.strip().rstrip("/")
        if not value:
            raise ValueError("OLLAMA_HOST is empty; set it like http://127.0.0.1:11434")
        if "://" not in value:
            value = "http://" + value
            if value.count(":") == 1:  # a bare host means Ollama's default port
                value += ":11434"
        return value.replace("://0.0.0.0", "://127.0.0.1")

    @field_validator("upload_types")
    @classmethod
    def _check_upload_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple("." + v.strip().lower().lstrip(".") for v in value if v.strip())
        if not cleaned:
            raise ValueError('QA_UPLOAD_TYPES is empty; list endings like [".txt", ".md"]')
        return cleaned

    @property
    def uploads(self) -> Path:
        """The folder uploaded articles are copied to before they are ingested."""
        if self.upload_dir is not None:
            return self.upload_dir
        if self.chroma_url is None:
            return self.index_dir / "uploads"
        # index_dir means nothing with a server; the copies stay on this machine (the index keeps the text).
        url = urlparse(self.chroma_url)
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return cache / "newsqa" / "uploads" / f"{url.hostname}-{url.port or 'default'}-{self.collection}"

    @field_validator("chroma_url")
    @classmethod
    def _check_chroma_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"QA_CHROMA_URL must start with http:// or https://, got {value!r}")
        url = urlparse(value)
        try:
            url.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise ValueError(
                f"QA_CHROMA_URL has a bad port, got {value!r}; write it like http://127.0.0.1:8000"
            ) from None
        if not url.hostname or url.path or url.query:
            raise ValueError(f"QA_CHROMA_URL must be http://host:port with no path, got {value!r}")
        return value

    @field_validator("collection")
    @classmethod
    def _check_collection(cls, value: str) -> str:
        # Chroma names: 3-512 characters of [a-zA-Z0-9._-], starting and ending with a letter or digit.
        if not _COLLECTION_PREFIX.fullmatch(value):
            raise ValueError(
                f"QA_COLLECTION must be 1-400 letters, digits, '.', '_' or '-', starting with a letter or digit, "
                f"got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _check_windows(self) -> Settings:
        if self.chunk_tokens > 256 and self.embedding_model == BUNDLED_EMBEDDING_MODEL:
            raise ValueError(
                f"QA_CHUNK_TOKENS={self.chunk_tokens} exceeds the 256 word-piece window of "
                f"{BUNDLED_EMBEDDING_MODEL}; use 256 or less"
            )
        if self.per_article > self.top_k:
            self.per_article = self.top_k
        return self
