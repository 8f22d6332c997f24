"""Who may use the web UI, and what it takes from them.

Anyone on this machine when it listens on loopback, only with the password otherwise: every tab can write (upload,
delete, run the evals), so a UI reachable from other machines must not be open. Files come only as uploads to this
server: never as a URL for the server to fetch.
"""

from __future__ import annotations

import logging
from pathlib import Path

import gradio as gr
from gradio.exceptions import InvalidPathError
from gradio_client.utils import is_http_url_like

from qa import ConfigError, Settings
from qa.offline import is_loopback

log = logging.getLogger(__name__)


def ui_auth(settings: Settings, host: str) -> tuple[str, str] | None:
    """The (user, password) the UI asks for, or None to stay open; refuses an open UI off loopback."""
    password = settings.ui_password.get_secret_value() if settings.ui_password else ""
    if password:
        return settings.ui_user, password
    if is_loopback(host):
        return None
    raise ConfigError(open_off_loopback(host))


def open_off_loopback(host: str) -> str:
    return (
        f"The web UI would listen on {host!r}, reachable from other machines, with no password: set QA_UI_PASSWORD "
        "(and QA_UI_USER, default 'newsqa') to require a login, or listen on loopback only (QA_UI_HOST=127.0.0.1 "
        "or --host 127.0.0.1)"
    )


def uploads_only(files: gr.File) -> gr.File:
    """`files` made to take only files sent to this server: a file entry naming a URL is refused, never fetched.

    Gradio downloads a file entry whose path is an http(s) URL into its upload folder before any handler runs
    (refusing only private addresses), so a request could make the server contact any public host, and the
    downloaded file would then pass as uploaded. The UI promises to contact nothing but loopback. The guard is
    bound to this one component: a subclass of gr.File would make Gradio write a .pyi file beside this module.
    """
    move, move_async = files.move_resource_to_block_cache, files.async_move_resource_to_block_cache

    def guarded(url_or_file_path: str | Path | None) -> str | None:
        _refuse_url(url_or_file_path)
        return move(url_or_file_path)

    async def guarded_async(url_or_file_path: str | Path | None) -> str | None:
        _refuse_url(url_or_file_path)
        return await move_async(url_or_file_path)

    files.move_resource_to_block_cache = guarded  # type: ignore[method-assign]
    files.async_move_resource_to_block_cache = guarded_async  # type: ignore[method-assign]
    return files


def _refuse_url(url_or_file_path: str | Path | None) -> None:
    if url_or_file_path is not None and is_http_url_like(str(url_or_file_path)):
        log.warning("refused an upload naming the URL %s: only files sent to this server are read", url_or_file_path)
        raise InvalidPathError(
            f"Cannot take {url_or_file_path}: the web UI reads only files uploaded to it and never downloads a URL; "
            "download the article yourself and upload the file"
        )
