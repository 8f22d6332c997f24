"""One settings object for the whole assistant, read from `QA_*` environment variables."""

from __future__ import annotations

import difflib
import json
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

BUNDLED_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
BUNDLED_LLM_MODEL = "gemma-3-270m (bundled, Q4_K_M)"
MAX_TOP_K = 50
_COLLECTION_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,399}")


class SettingsWarning(UserWarning):
    """A QA_* environment variable that is no setting (a typo, most likely): it changes nothing."""


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
    ollama_timeout: float = Field(
        120.0,
        gt=0,
        description="Seconds Ollama has for a whole answer, from the request to its last token (a deadline, not a "
        "limit per read: a server that drips a token every few seconds is cut off too).",
    )
    ollama_probe_timeout: float = Field(
        1.5, gt=0, description="Seconds 'auto' waits for Ollama before using the embedded model."
    )

    embedded_model_path: Path | None = Field(
        None,
        description="GGUF file for the embedded backend; default: the bundled Gemma 3 270M.",
    )
    embedded_context: int = Field(4096, ge=512, description="Context window (tokens) of the embedded model.")
    threads: int | None = Field(None, ge=1, description="CPU threads for the embedded model; default: all cores.")
    embedded_timeout: float = Field(
        120.0,
        gt=0,
        description="Seconds the embedded model may go without output (loading included) before its worker "
        "process is ended and the question answered without it.",
    )
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
    fetch_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds one web page or feed may take to arrive, from the request to its last byte; a slower "
        "one is that item's failure, and the rest of the run goes on.",
    )
    fetch_max_mb: float = Field(
        5.0, gt=0, description="Largest web page or feed fetched, in megabytes; the download stops there."
    )
    fetch_max_pages: int = Field(
        50,
        ge=1,
        description="Most pages and feeds one ingest fetches (robots.txt not counted); the entries left over are "
        "fetched by the next run.",
    )
    fetch_dir: Path | None = Field(
        None,
        description="Where fetched pages and feeds are kept as JSON lines before they are ingested; default: a "
        "'fetched' folder in index_dir, or with a Chroma server a folder per server and collection in the user's "
        "cache (~/.cache/newsqa/fetched).",
    )
    ui_host: str = Field("127.0.0.1", description="Address the web UI listens on (loopback: this machine only).")
    ui_port: int = Field(7860, ge=1, le=65535, description="Port the web UI listens on.")
    ui_user: str = Field("newsqa", min_length=1, description="User name the web UI asks for when it has a password.")
    ui_password: SecretStr | None = Field(
        None,
        description="Password the web UI asks for (with ui_user); required when it listens off loopback. Never "
        "printed. Unset: no login, allowed on loopback only.",
    )
    api_key: SecretStr | None = Field(
        None,
        description="Bearer token the HTTP API (/api/…) asks for (Authorization: Bearer <key>); required when it "
        "listens off loopback, asked for on loopback too when set. Never printed. Unset: open on loopback only.",
    )

    top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="Passages given to the model.")
    candidates: int = Field(30, ge=1, description="Candidates taken from each retriever before fusion.")
    per_article: int = Field(2, ge=1, description="Most passages from one article in an answer's context.")
    one_per_story: bool = Field(
        True,
        description="Give the passages of one article per story (near-duplicate copies dropped, listed as `also_in`).",
    )
    detect_stories: bool = Field(
        True, description="Find near-duplicate articles at ingest and give them one story id (MinHash/LSH)."
    )
    story_threshold: float = Field(
        0.5,
        ge=0.5,
        le=1.0,
        description="Estimated Jaccard similarity of 5-word shingles at which two articles are one story "
        "(calibrated in evals/README.md; below 0.5 the stored LSH bands would miss pairs).",
    )
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
        "+ shape bonus) with QA_RANKING=rules; below it the articles do not answer. Calibrated on evals/seeds.jsonl.",
    )
    ranking: Literal["reader", "rules"] = Field(
        "rules",
        description="How evidence sentences are ordered and when the articles do not answer: 'rules', the evidence "
        "ranking against QA_MIN_EVIDENCE; 'reader', the answer score (the trained reader's readings mixed with the "
        "rules' score, fitted on RealTimeQA's calibration weeks) against QA_MIN_ANSWER_SCORE. 'reader' lost to "
        "'rules' on the seed set and on RealTimeQA's report weeks, so it is not the default (evals/README.md).",
    )
    min_answer_score: float | None = Field(
        None,
        description="With QA_RANKING=reader: the answer score (a logit) the best sentence must reach; None: the "
        "threshold chosen with the mix on RealTimeQA's calibration weeks (qa/reader/weights/mix.json).",
    )
    reader_precision: Literal["int8", "fp32"] = Field(
        "fp32",
        description="The trained reader's weights at run time: 'fp32' (the export as checked against torch) or "
        "'int8' (quantised from it: faster, refused when it reads unlike fp32, as the shipped weights do today).",
    )
    min_short_margin: float | None = Field(
        None,
        description="How much the trained reader must prefer its best span in the answering sentence to 'no answer' "
        "(start + end logits) for the span to lead the answer as its short answer; None: the best span always "
        "leads (the sentence was already judged to answer). None was chosen on RealTimeQA's calibration weeks "
        "(evals/README.md).",
    )
    min_support: float = Field(
        0.55,
        ge=-1.0,
        le=1.0,
        description="Cosine similarity an answer sentence needs to a sentence of the passage it cites.",
    )

    @field_validator("index_dir", mode="before")
    @classmethod
    def _refuse_empty_index_dir(cls, value: object) -> object:
        # Path("") is the current folder: an empty QA_INDEX_DIR would silently put an index wherever qa runs.
        if isinstance(value, str) and not value.strip():
            raise ValueError("QA_INDEX_DIR is empty; name the index folder (e.g. QA_INDEX_DIR=index) or unset it")
        return value

    @field_validator("upload_dir", "fetch_dir", "embedded_model_path", mode="before")
    @classmethod
    def _empty_path_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("ollama_host")
    @classmethod
    def _normalise_host(cls, value: str) -> str:
        # OLLAMA_HOST is often written as "host:port" or "0.0.0.0"; the HTTP client wants a URL.
        given = value
        value = value.strip().rstrip("/")
        if not value:
            raise ValueError("OLLAMA_HOST is empty; set it like http://127.0.0.1:11434")
        if "://" not in value:
            value = "http://" + value
            if value.count(":") == 1:  # a bare host means Ollama's default port
                value += ":11434"
        try:
            url = urlparse(value)
            url.port  # noqa: B018 - raises on a port that is not a number
        except ValueError as exc:
            raise ValueError(
                f"OLLAMA_HOST is not a URL ({exc}), got {given!r}; write it like http://127.0.0.1:11434"
            ) from None
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"OLLAMA_HOST must be http://host:port, got {given!r}")
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

    @property
    def fetched(self) -> Path:
        """The folder fetched pages and feeds are kept in (as JSON lines) before they are ingested."""
        if self.fetch_dir is not None:
            return self.fetch_dir
        if self.chroma_url is None:
            return self.index_dir / "fetched"
        url = urlparse(self.chroma_url)
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return cache / "newsqa" / "fetched" / f"{url.hostname}-{url.port or 'default'}-{self.collection}"

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
        for message in unknown_variables(os.environ):
            warnings.warn(message, SettingsWarning, stacklevel=2)
        return self


def variable_of(field: str) -> str:
    """The environment variable that sets a field."""
    return "OLLAMA_HOST" if field == "ollama_host" else f"QA_{field.upper()}"


def known_variables() -> set[str]:
    return {variable_of(name) for name in Settings.model_fields} | {"QA_OLLAMA_HOST"}


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """One warning per QA_* variable that is not a setting, naming the closest one that is."""
    known = sorted(known_variables())
    messages = []
    # pydantic-settings reads variable names without regard to case, and so does this check.
    for name in sorted(n for n in environ if n.upper().startswith("QA_") and n.upper() not in known):
        close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else " (see the Configuration table in README.md)"
        messages.append(f"{name} is not a setting and is ignored{hint}")
    return messages


def describe_settings_error(exc: ValidationError | SettingsError) -> str:
    """One line naming each bad setting by its environment variable and field, and what is wrong."""
    if isinstance(exc, SettingsError):
        match = re.search(r'field "(\w+)"', str(exc))
        field = match[1] if match else ""
        cause = exc.__cause__ or exc
        default = Settings.model_fields[field].default if field in Settings.model_fields else None
        example = f", e.g. {json.dumps(list(default))}" if isinstance(default, tuple) else ""
        where = f"{variable_of(field)} ({field})" if field else "a QA_* variable"
        return f"{where}: cannot be read as JSON ({cause}); write it as JSON{example}"
    problems = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        field = loc[0] if loc else ""
        where = f"{field} ({variable_of(field)})" if field in Settings.model_fields else (field or "settings")
        message = str(error["msg"]).removeprefix("Value error, ")
        given = error.get("input")
        shown = (
            isinstance(given, str | int | float) and field and field not in ("ui_password", "api_key")
        )  # a secret is never shown
        got = f" (got {given!r})" if shown and "got " not in message else ""
        problems.append(f"{where}: {message}{got}")
    return "; ".join(problems)
