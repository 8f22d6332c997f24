"""The HTTP API: routes over the Python API, and nothing else.

Every route calls one public method of `Assistant` (or the upload helpers the web UI uses) and publishes the
model it returns, so `/openapi.json` describes the same objects as `from qa import …`; an answer is `Answer.to_json()`,
byte for byte the object `qa ask --json` prints. Errors are one line (qa/api/errors.py).
"""

# No `from __future__ import annotations` here: FastAPI reads the routes' annotations at runtime, and the upload
# route's names the settings of the app being built.
import shutil
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, File, HTTPException, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from qa import Answer, ArticleRecord, Assistant, Status, ingest_upload, keep_upload, upload_summary
from qa.api import errors
from qa.api.access import guard
from qa.api.limits import UPLOAD_FILES_MAX, BodyLimit, api_limits
from qa.api.models import ArticlePage, AskRequest, Health, Problem, Removed, UploadReport
from qa.api.stream import stream_answer

_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": Problem, "description": "A field is missing or wrong; the message names it."}
}
_TOO_LARGE: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body cannot be parsed (not UTF-8 JSON, or broken multipart)."},
    413: {"model": Problem, "description": "The request body is over the route's limit."},
}
_ASK_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "The index is empty: ingest articles first (the message says how)."},
    503: {"model": Problem, "description": "Ollama or the Chroma server cannot be reached, or the index is busy."},
}
# One server-sent event of a streamed answer (the shape FastAPI and OpenAPI 3.2 give an event), its data one line of
# JSON: {"text"} for a token, the Answer for the answer, a Problem with its "status" for an error.
_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["token", "answer", "error"]},
        "data": {"type": "string", "description": "JSON: {text} (token), the Answer (answer), {error, status}."},
    },
    "required": ["event", "data"],
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "No article with that id."}}


def _version() -> str:
    try:
        return version("newsqa")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "0"


def build_api(assistant: Assistant, *, key: str | None = None) -> FastAPI:
    """The API's FastAPI app over `assistant`; with `key`, every /api route but health asks for it as a bearer
    token (see `qa.api.access.api_key` for when one is required). The web UI is mounted on it by qa/api/server.py."""
    settings = assistant.settings
    app = FastAPI(
        title="newsqa",
        version=_version(),
        summary="Ask questions about the indexed news articles; answers cite the passages they come from.",
        docs_url="/docs",
        redoc_url=None,
    )
    errors.install(app)
    app.add_middleware(BodyLimit, limit_for=api_limits(settings.upload_max_mb))
    check = guard(key)
    refused: dict[int | str, dict[str, Any]] = (
        {401: {"model": Problem, "description": "No key, or not the server's QA_API_KEY."}} if check else {}
    )
    api = APIRouter(
        prefix="/api",
        dependencies=[Depends(check)] if check else [],
        responses={**_ERRORS, **refused},
    )
    # Open even with a key: a load balancer's probe carries none, and the reply tells nothing about the index.
    public = APIRouter(prefix="/api")

    @public.get("/health", tags=["server"])
    def health() -> Health:
        """Whether the server answers: no model, index or backend is touched (for load balancers)."""
        return Health()

    @api.get("/status", tags=["server"], responses=_ASK_ERRORS)
    def status() -> Status:
        """Where the index is, what it holds, and which model answers (`qa status --json`); asks Ollama."""
        return assistant.status()

    @api.post(
        "/ask",
        tags=["questions"],
        response_model=Answer,
        responses={
            **_ASK_ERRORS,
            **_TOO_LARGE,
            200: {
                "description": "The answer (`qa ask --json`), or with `stream: true` server-sent events: `token` "
                "pieces of the draft, then the `answer` object (or an `error`).",
                "content": {"text/event-stream": {"schema": _EVENT}},
            },
        },
    )
    async def ask(request: AskRequest) -> Response:
        """Answer from the indexed articles only, citing passages as [n]; refuse when they do not tell."""

        def run(on_token: Any = None) -> Answer:
            return assistant.ask(
                request.question,
                top_k=request.top_k,
                date_from=request.date_from,
                date_to=request.date_to,
                mode=request.mode,
                backend=request.backend,
                choices=request.choices,
                history=request.history,
                on_token=on_token,
            )

        if request.stream:
            return await stream_answer(run)
        answer = await run_in_threadpool(run)
        return JSONResponse(answer.to_json())  # the CLI's own serialiser: one shape for `qa ask --json` and this

    @api.get("/articles", tags=["articles"])
    def articles(
        offset: Annotated[int, Query(ge=0, description="Articles to skip.")] = 0,
        limit: Annotated[int, Query(ge=1, le=500, description="Most articles in the page.")] = 50,
    ) -> ArticlePage:
        """The indexed articles, newest first (`qa articles`), a page at a time."""
        records = assistant.articles()
        return ArticlePage(total=len(records), offset=offset, limit=limit, articles=records[offset : offset + limit])

    @api.get("/articles/{doc_id}", tags=["articles"], responses=_NOT_FOUND)
    def article(doc_id: str) -> ArticleRecord:
        """One indexed article's record."""
        for record in assistant.articles():
            if record.doc_id == doc_id:
                return record
        raise _no_article(doc_id)

    @api.delete("/articles/{doc_id}", tags=["articles"], responses={**_NOT_FOUND, 503: _ASK_ERRORS[503]})
    def remove(doc_id: str) -> Removed:
        """Delete an article and its chunks from the index (`qa remove`)."""
        removed = assistant.remove([doc_id])
        if not removed:
            raise _no_article(doc_id)
        return Removed(doc_id=doc_id, removed=removed)

    @api.post("/articles", tags=["articles"], responses={**_TOO_LARGE, 503: _ASK_ERRORS[503]})
    def upload(
        files: Annotated[
            list[UploadFile],
            File(
                description=f"Article files ({', '.join(settings.upload_types)}), up to {settings.upload_max_mb:g} MB "
                f"each, at most {UPLOAD_FILES_MAX} per request."
            ),
        ],
    ) -> UploadReport:
        """Add articles: each file is checked and ingested as the web UI's upload does, with one result per file."""
        if len(files) > UPLOAD_FILES_MAX:
            raise HTTPException(413, f"{len(files)} files in one request; send at most {UPLOAD_FILES_MAX} per request")
        results = []
        # Each file is written to a folder of this request's own, and only from there kept and read: the same
        # checks (type, size, emptiness, name) and the same copy under <uploads>/<digest>/<name> as the web UI.
        with tempfile.TemporaryDirectory(prefix="qa-api-upload-") as received:
            for n, file in enumerate(files):
                spooled = Path(received) / str(n)
                with spooled.open("wb") as out:
                    shutil.copyfileobj(file.file, out)
                kept = keep_upload(spooled, settings, file.filename or spooled.name, received_in=Path(received))
                results.append(ingest_upload(kept, lambda path: assistant.ingest([path], prune=False)))
        return UploadReport(files=results, summary=upload_summary(results))

    app.include_router(public)
    app.include_router(api)
    return app


def _no_article(doc_id: str) -> HTTPException:
    return HTTPException(404, f"No article with id {doc_id!r} in the index; list them with GET /api/articles")
