"""One server, two faces: the web UI (Gradio) mounted on the HTTP API's FastAPI app, served by uvicorn.

The API's routes (/api/…, /openapi.json, /docs) are the FastAPI app's own and match first; everything else is
the UI's, mounted at / so its page stays at http://host:port/. The UI keeps its login (QA_UI_PASSWORD) and
its Gradio options (qa/ui/app.py `gradio_options`); the API has its key (QA_API_KEY, qa/api/access.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import gradio as gr
import uvicorn
from fastapi import FastAPI

from qa import Assistant
from qa.api.app import build_api
from qa.ui import build_app, gradio_options

# Seconds uvicorn waits, on Ctrl-C, for open connections (a streamed answer, the UI's event stream) to finish.
SHUTDOWN_GRACE = 5


def build_server(
    assistant: Assistant,
    *,
    host: str,
    port: int,
    key: str | None,
    ui_auth: tuple[str, str] | None,
    blocked_paths: Sequence[Path] = (),
    eval_set: Path | None = None,
    eval_articles: Path | None = None,
) -> FastAPI:
    """The API over `assistant` with the UI over the same assistant mounted at /; refuses what `launch` refuses."""
    options = gradio_options(
        host=host, upload_max_mb=assistant.settings.upload_max_mb, auth=ui_auth, blocked_paths=blocked_paths
    )
    api = build_api(assistant, key=key)
    ui = build_app(assistant, eval_set=eval_set, eval_articles=eval_articles)
    ui.queue(default_concurrency_limit=1)
    served: FastAPI = gr.mount_gradio_app(api, ui, path="/", server_name=host, server_port=port, **options)
    return served


def serve(app: FastAPI, *, host: str, port: int) -> None:
    """Serve `app` until Ctrl-C."""
    print(f"Web UI on http://{_url_host(host)}:{port}/ · HTTP API on /api (OpenAPI: /openapi.json, docs: /docs)")
    uvicorn.run(
        app,
        host=host,
        port=port,
        server_header=False,
        proxy_headers=False,  # no proxy is trusted to say who the client is
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
        log_level="info",
    )


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
