"""How large a request to /api may be: small for JSON, the upload limit times the files per request for uploads.

A body over its route's limit is answered 413 with one line naming the limit, before it is parsed: at once when
its Content-Length says so, else as soon as the bytes received pass it (a chunked body has no length). The web UI's
routes are not limited here; Gradio has its own limit (twice QA_UPLOAD_MAX_MB per file, qa/ui/app.py).

Starlette's own limit (a route's `max_body_size`) answers in plain text and cannot be given our message, hence
this middleware.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.api.errors import problem

JSON_MAX_BYTES = 64 * 1024  # a question, its options and a conversation's questions fit many times over
UPLOAD_FILES_MAX = 20  # files in one upload request; more go in more requests
MULTIPART_SLACK = 1024 * 1024  # room for the multipart framing around the files


def upload_limit(upload_max_mb: float) -> int:
    return int(upload_max_mb * 1024 * 1024) * UPLOAD_FILES_MAX + MULTIPART_SLACK


def api_limits(upload_max_mb: float) -> Callable[[Scope], int | None]:
    """The body limit of a request: None outside /api (the UI's), the upload limit for POST /api/articles."""

    def limit_for(scope: Scope) -> int | None:
        path = str(scope.get("path", ""))
        if path != "/api" and not path.startswith("/api/"):
            return None
        if scope.get("method") == "POST" and path.rstrip("/") == "/api/articles":
            return upload_limit(upload_max_mb)
        return JSON_MAX_BYTES

    return limit_for


class _TooLarge(Exception):
    pass


def _message(limit: int) -> str:
    size = f"{limit / 1024 / 1024:,.1f} MB" if limit >= 1024 * 1024 else f"{limit / 1024:,.0f} KB"
    return (
        f"The request body is over this route's {size} limit; send a shorter question, or fewer or smaller files "
        f"per upload (at most {UPLOAD_FILES_MAX} files)"
    )


class BodyLimit:
    """ASGI middleware: a 413 reply for a body over `limit_for(scope)` bytes."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[Scope], int | None]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit_for(scope) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        refusal = problem(413, _message(limit))
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await refusal(scope, receive, send)
            return
        received, over, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise _TooLarge
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if over:
                # The app answers a body it could not finish reading (FastAPI: 400 "error parsing the body"); the
                # caller gets the 413 instead, once.
                if not started:
                    started = True
                    await refusal(scope, receive, send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except _TooLarge:
            if not started:
                await refusal(scope, receive, send)
