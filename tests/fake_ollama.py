"""A small HTTP server on loopback that speaks Ollama's API, for testing the Ollama backend.

It implements `/api/tags`, `/api/chat` and `/api/generate` (streamed as NDJSON, or whole), answers
404 for a model it does not have, and can be told to stall (timeouts) or to drip its reply (`token_delay`
seconds before each word). Its default reply is a toy model: the first sentence of passage [1] of the prompt,
cited as [1]. `enqueue` scripts replies. `fault` makes its answers (POST) break the API, `tags_fault` its model
list, in one of the ways of `FAULTS`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# What a server that is not (quite) Ollama sends: a proxy's HTML page with status 200 or 500, a stream whose second
# line is not JSON, JSON of another shape, and a stream cut off in the middle of a line.
FAULTS = ("html", "http-500", "garbage-line", "wrong-shape", "cut")


class FakeOllama:
    def __init__(self, models: list[str] | None = None) -> None:
        self.models = list(models if models is not None else ["llama3.2:3b"])
        self.replies: deque[str] = deque()
        self.requests: list[dict[str, Any]] = []
        self.delay = 0.0
        self.token_delay = 0.0
        self.fault: str | None = None
        self.fault_after_first_token = False  # stream one good piece of the answer before the fault
        self.tags_fault: str | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeOllama:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def enqueue(self, *replies: str) -> None:
        self.replies.extend(replies)

    def reply_for(self, prompt: str) -> str:
        if self.replies:
            return self.replies.popleft()
        match = re.search(r"^\[1\] [^\n]*?\): (.+)$", prompt, re.MULTILINE)
        if not match:
            return "The articles do not answer this question."
        sentence = re.split(r"(?<=[.!?])\s", match[1])[0].rstrip(".")
        return f"{sentence} [1]."

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _html(self, status: int) -> None:
                page = b"<html><body><h1>502 Bad Gateway</h1>\n<p>nginx</p></body></html>"
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def _broken(self, fault: str, first: dict[str, Any] | None) -> None:
                if fault in ("html", "http-500"):
                    self._html(200 if fault == "html" else 500)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.end_headers()
                if first is not None:
                    self.wfile.write((json.dumps(first) + "\n").encode())
                    self.wfile.flush()
                if fault == "garbage-line":
                    self.wfile.write(b"\x00\xffnot json at all{\n")
                elif fault == "wrong-shape":
                    self.wfile.write(b'[1, 2, 3]\n{"message": "not an object"}\n')
                elif fault == "cut":
                    self.wfile.write(b'{"model": "x", "message": {"role": "assis')
                self.wfile.flush()
                self.close_connection = True

            def do_GET(self) -> None:
                if self.path == "/api/tags" and fake.tags_fault:
                    self._broken(fake.tags_fault, None)
                elif self.path == "/api/tags":
                    models = [{"name": m, "model": m, "size": 1, "digest": "0" * 12} for m in fake.models]
                    self._json(200, {"models": models})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append({"path": self.path, **body})
                if self.path not in ("/api/chat", "/api/generate"):
                    self._json(404, {"error": "not found"})
                    return
                model = body.get("model", "")
                if model not in fake.models and f"{model}:latest" not in fake.models:
                    self._json(404, {"error": f"model '{model}' not found"})
                    return
                if fake.delay:
                    time.sleep(fake.delay)
                if fake.fault:
                    good = self._part(model, "The ", False) if fake.fault_after_first_token else None
                    self._broken(fake.fault, good)
                    return
                if self.path == "/api/chat":
                    prompt = "\n".join(m.get("content", "") for m in body.get("messages", []))
                else:
                    prompt = body.get("prompt", "")
                reply = fake.reply_for(prompt)
                words = re.findall(r"\S+\s*", reply)
                if body.get("stream", True):
                    self.send_response(200)
                    self.send_header("Content-Type", "application/x-ndjson")
                    self.end_headers()
                    for word in words:
                        time.sleep(fake.token_delay)
                        self.wfile.write((json.dumps(self._part(model, word, False)) + "\n").encode())
                        self.wfile.flush()
                    self.wfile.write((json.dumps(self._part(model, "", True)) + "\n").encode())
                else:
                    self._json(200, self._part(model, reply, True))

            def _part(self, model: str, text: str, done: bool) -> dict[str, Any]:
                part: dict[str, Any] = {"model": model, "created_at": "2026-01-01T00:00:00Z", "done": done}
                if self.path == "/api/chat":
                    part["message"] = {"role": "assistant", "content": text}
                else:
                    part["response"] = text
                if done:
                    part["done_reason"] = "stop"
                return part

        return Handler
