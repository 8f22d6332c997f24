"""Who may call the HTTP API: anyone on this machine on loopback, only with the key (QA_API_KEY) otherwise.

As for the web UI (qa/ui/access.py): every write route (upload, delete) is open to whoever reaches it, so an API
reachable from other machines must not be open, and a server told to listen off loopback without a key does not
start. A key that is set is asked for on loopback too.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from qa import ConfigError, Settings
from qa.offline import is_loopback

# Declared through HTTPBearer so the OpenAPI document names the scheme and the docs page offers to send the key.
BEARER = HTTPBearer(auto_error=False, description="QA_API_KEY, as `Authorization: Bearer <key>`.")
KEY_MISSING = "This API needs its key: send the header `Authorization: Bearer <QA_API_KEY>`"
KEY_WRONG = "The API key sent is not this server's QA_API_KEY; send `Authorization: Bearer <QA_API_KEY>`"


def api_key(settings: Settings, host: str) -> str | None:
    """The key the API asks for, or None to stay open; refuses an open API off loopback."""
    key = settings.api_key.get_secret_value() if settings.api_key else ""
    if key:
        return key
    if is_loopback(host):
        return None
    raise ConfigError(open_off_loopback(host))


def open_off_loopback(host: str) -> str:
    return (
        f"The HTTP API would listen on {host!r}, reachable from other machines, with no key: set QA_API_KEY to a "
        "long random string (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`) and send it as "
        "`Authorization: Bearer <key>`, or listen on loopback only (QA_UI_HOST=127.0.0.1 or --host 127.0.0.1)"
    )


def guard(key: str | None) -> Callable[..., Awaitable[None]] | None:
    """A dependency that lets a request through only with `Authorization: Bearer <key>`; None when open."""
    if key is None:
        return None
    expected = key.encode("utf-8")

    async def check(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> None:
        if credentials is None:
            raise HTTPException(401, KEY_MISSING, headers={"WWW-Authenticate": "Bearer"})
        # Compared in constant time, so the reply's timing tells nothing about how much of a guess was right.
        if not secrets.compare_digest(credentials.credentials.encode("utf-8", "surrogateescape"), expected):
            raise HTTPException(401, KEY_WRONG, headers={"WWW-Authenticate": "Bearer"})

    return check
