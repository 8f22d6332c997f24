"""The process that runs llama.cpp for the embedded backend (`python -m qa.generation.llama_worker`).

llama.cpp is native code: a fault in it (a segmentation fault in a CPU-specific kernel, issue 23) or a hang would
take down whatever process loaded it, the CLI or the web UI with every user in it. Here it can only take down this
worker, and the parent (qa/generation/embedded.py) says so in one line and carries on.

Protocol, one JSON object per line: the parent writes {"prompt", "max_tokens", "stop"}; the worker answers with
{"text": piece} lines, then {"done": true}, or {"error": message} when the request cannot be served.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import IO, Any


def _protocol_stream() -> IO[str]:
    """Our own copy of stdout for the protocol; fd 1 then points at stderr, so nothing native can write into it."""
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def _serve(llama: Any, context: int, request: dict[str, Any], send: Any) -> None:
    prompt = str(request["prompt"])
    room = context - len(llama.tokenize(prompt.encode("utf-8")))
    if room < 16:
        send(
            {
                "error": f"The question and passages fill the embedded model's {context}-token window; "
                "lower QA_TOP_K or raise QA_EMBEDDED_CONTEXT"
            }
        )
        return
    for part in llama.create_completion(
        prompt,
        max_tokens=min(int(request["max_tokens"]), room),
        temperature=0.0,
        top_k=1,
        repeat_penalty=1.1,
        stop=list(request.get("stop", [])),
        stream=True,
    ):
        text = part["choices"][0]["text"]
        if text:
            send({"text": text})
    send({"done": True})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="the GGUF file")
    parser.add_argument("--context", type=int, required=True, help="context window in tokens")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads; default: all cores")
    args = parser.parse_args(argv)
    out = _protocol_stream()

    def send(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    from llama_cpp import Llama

    llama = Llama(model_path=args.model, n_ctx=args.context, n_threads=args.threads, seed=0, verbose=False)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            _serve(llama, args.context, json.loads(line), send)
        except Exception as exc:  # one request failed; the worker serves the next
            send({"error": f"{type(exc).__name__}: {exc}"})
    llama.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
