"""Errors that tell the user what to do.

Every failure the user can fix is a `QAError` whose message names the thing that is wrong
(file, field, host) and the fix. The CLI prints the message as one line, never a traceback.
"""

from __future__ import annotations


class QAError(Exception):
    """Base class: the message is shown to the user as it is."""


class ConfigError(QAError):
    """A setting has a value we cannot use."""


class DocumentError(QAError):
    """One article file cannot be read or parsed; the rest of the batch goes on."""

    def __init__(self, path: str, reason: str, *, line: int | None = None) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
        self.line = line  # the line of a JSON lines file, when the error is about one record


class InputError(QAError, ValueError):
    """An argument of the Python API has the wrong type or value; the message names it and what it got."""


class IndexMismatchError(QAError):
    """The index on disk was built with another embedding model; mixing vectors would be silent garbage."""


class IndexFormatError(QAError):
    """The index was written in another layout of its collections (`qa migrate` converts an older one)."""


class IndexEmptyError(QAError):
    """Asked a question before anything was ingested."""


class StoreError(QAError):
    """Chroma (embedded or server) could not be opened or reached."""


class IndexBusyError(StoreError):
    """Another process kept the index's write lock for longer than QA_LOCK_TIMEOUT."""


class ChromaUnreachableError(StoreError):
    """QA_CHROMA_URL is set but no Chroma server answers there."""


class BackendError(QAError):
    """The language model backend failed (unreachable, model missing, timeout, a reply not in its API)."""


class ModelStoppedError(BackendError):
    """The embedded model's worker process crashed, was killed or went quiet; the next question starts a new one."""


class ModelNotInstalledError(ModelStoppedError):
    """The embedded model cannot start: llama.cpp (`llama-cpp-python`, the `llm` extra) is not installed."""


class BackendUnreachableError(BackendError):
    """Nothing answers at the backend's address."""
