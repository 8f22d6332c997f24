"""Connecting to Chroma: a local directory, or a server (QA_CHROMA_URL) whose loss mid-session is one clear error."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from qa.errors import ChromaUnreachableError, StoreError
from qa.settings import Settings


def open_client(settings: Settings) -> Any:
    """A Chroma client: a server when QA_CHROMA_URL is set, else a local directory."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        return _open_server(settings.chroma_url, chroma_settings)
    path = Path(settings.index_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as exc:
        raise StoreError(f"Cannot open the index at {path} ({exc}); check QA_INDEX_DIR") from None


def _open_server(chroma_url: str, chroma_settings: Any) -> Any:
    import chromadb

    url = urlparse(chroma_url)
    try:
        client = chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
        client.heartbeat()
    except Exception as exc:  # chromadb raises plain ValueError / httpx errors for connection problems
        raise ChromaUnreachableError(
            f"Cannot reach the Chroma server at {chroma_url} ({exc}); start it with "
            "`chroma run --path DIR --port N` or unset QA_CHROMA_URL to use the local index in QA_INDEX_DIR"
        ) from None
    return client


def server_lost(chroma_url: str, exc: BaseException) -> ChromaUnreachableError:
    return ChromaUnreachableError(
        f"Lost the Chroma server at {chroma_url} ({type(exc).__name__}: {exc}); check that it is still running "
        "(`chroma run --path DIR --port N`) and run the command again, or unset QA_CHROMA_URL to use the local "
        "index in QA_INDEX_DIR"
    )


class Reaching:
    """A Chroma client or collection whose calls turn a lost server (an httpx transport error: refused, reset,
    timed out) into `ChromaUnreachableError`. Every read and write of the Store goes through one of these, so
    the mapping lives here instead of in each method."""

    def __init__(self, target: Any, chroma_url: str) -> None:
        import httpx

        self._target = target
        self._url = chroma_url
        self._transport_error = httpx.TransportError

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value):
            return value
        return self._guard(value)

    def _guard(self, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except self._transport_error as exc:
                raise server_lost(self._url, exc) from None

        return call
