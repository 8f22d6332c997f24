"""`POST /api/ask` with `stream: true`: the answer as server-sent events.

Events, each one line of JSON after `data: `:
- `token`: `{"text": "…"}`, a piece of the model's draft as it is written (generate mode; none in extract mode
  or for multiple choice, where no model writes);
- `answer`: the answer object, exactly the reply without `stream` (and `qa ask --json`), always the last event;
- `error`: `{"error": "…", "status": 503}` instead of `answer` when the question fails after the stream began.

The question runs in a worker thread (Assistant.ask blocks; its `on_token` is called from that thread). The reply
waits for its first event before it starts: a question that fails before any token (empty index, Ollama down)
gets a plain error reply with its status code, as without `stream`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.responses import StreamingResponse

from qa import Answer, QAError
from qa.api.errors import status_of

log = logging.getLogger(__name__)
Ask = Callable[[Callable[[str], None]], Answer]
_DONE = object()


def event(name: str, data: dict[str, Any]) -> str:
    # json.dumps escapes newlines, so each event's data is one line, as the format requires.
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def stream_answer(ask: Ask) -> StreamingResponse:
    """Start `ask(on_token)` in a thread and reply with its events; raises what it raises before the first one."""
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[object] = asyncio.Queue()

    def put(item: object) -> None:
        loop.call_soon_threadsafe(items.put_nowait, item)

    def work() -> None:
        try:
            put(ask(put))
        except BaseException as exc:  # handed to the event loop below, as an item
            put(exc)
        finally:
            put(_DONE)

    threading.Thread(target=work, name="qa-api-ask", daemon=True).start()
    first = await items.get()
    if isinstance(first, BaseException):
        raise first  # the app's error handlers turn it into the same reply as without `stream`

    async def events() -> AsyncIterator[str]:
        item = first
        while item is not _DONE:
            if isinstance(item, str):
                yield event("token", {"text": item})
            elif isinstance(item, Answer):
                yield event("answer", item.to_json())
            elif isinstance(item, QAError):
                yield event("error", {"error": " ".join(str(item).split()), "status": status_of(item)})
            elif isinstance(item, BaseException):
                # Our bug: the traceback goes to the server log, the caller gets the error event, never the trace.
                log.error("a streamed question failed", exc_info=item)
                message = "Internal error while answering; the server log has the details"
                yield event("error", {"error": message, "status": 500})
            item = await items.get()

    # no-cache and no proxy buffering: each event should reach the caller as soon as it is written.
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
