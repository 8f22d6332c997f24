"""Errors as HTTP replies: a status code and the one line the CLI would print, never a traceback.

The status says whose move it is: 4xx the caller's (fix the request, ingest first), 503 the server's
surroundings (Ollama or Chroma down, the index busy: try again once the message's fix is done).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from qa import (
    BackendError,
    ConfigError,
    IndexEmptyError,
    IndexMismatchError,
    QAError,
    StoreError,
)

log = logging.getLogger(__name__)

# Looked up along the exception's classes, most specific first; any other QAError is a bad request (422): the
# Python API raises plain QAErrors for arguments it rejects (a mode it does not know, a single choice).
STATUS: dict[type[QAError], int] = {
    IndexEmptyError: 409,  # ingest first
    IndexMismatchError: 409,  # the index was built with another embedding model
    BackendError: 503,  # Ollama down or the model missing, the bundled model stopped
    StoreError: 503,  # Chroma unreachable, the index's write lock held too long
    ConfigError: 500,  # a setting the server runs with is unusable: the operator's fix, named in the message
}


def status_of(exc: QAError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 422


def problem(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": " ".join(message.split())}, status_code=status, headers=headers)


def validation_message(exc: RequestValidationError) -> str:
    """Each bad field by name and what is wrong with it, in one line: "question: The question is empty; …"."""
    parts = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "")
            return f'The body is not JSON ({reason}); send a JSON object such as {{"question": "…"}}'
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {str(error.get('msg', 'invalid')).removeprefix('Value error, ')}")
    return "; ".join(parts) or "The request is not valid"


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error of an /api route into a `Problem` reply."""

    @app.exception_handler(QAError)
    async def on_qa_error(request: Request, exc: QAError) -> JSONResponse:
        return problem(status_of(exc), str(exc))

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(422, validation_message(exc))

    @app.exception_handler(HTTPException)
    async def on_http(request: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        # Anything else is our bug: the traceback goes to the server log, never to the caller.
        log.exception("%s %s failed", request.method, request.url.path)
        return problem(500, "Internal error while handling the request; the server log has the details")
