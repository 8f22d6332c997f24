"""One writer at a time per index, and a mark readers in other processes check to see that someone wrote.

Chroma's local index is not safe for two writers: each process keeps its own vector index (HNSW) in memory and
saves it over the other's, which leaves ids that the metadata knows and the vector index does not ("Error finding
id" on every later query). Every write (ingest, rebuild, remove, repair) therefore holds an exclusive lock on the
index: a `filelock` lock file in the index directory, or, for a Chroma server, one in the user's cache keyed like
the retrieval cache (it only orders the writers of this machine). The holder's pid and operation are written to a
side file so a second writer can say whom it waits for.

After each batch it writes, a writer bumps a counter file next to the lock. A process that reads the index
compares the counter with the one it opened Chroma at and reopens Chroma when another process wrote, since its
in-memory vector index would otherwise be stale.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import filelock

from qa.errors import IndexBusyError
from qa.settings import Settings

log = logging.getLogger(__name__)

LOCK_FILE = "write.lock"
HOLDER_FILE = "write.lock.holder"  # "<pid> <operation>" of the process holding the lock
WRITES_FILE = "writes"  # changes on every write; readers reopen Chroma when it moved

WaitCallback = Callable[[str], None]


def lock_folder(settings: Settings) -> Path:
    """The index directory, or for a Chroma server a folder per server and collection in the user's cache."""
    if settings.chroma_url is None:
        return Path(settings.index_dir)
    digest = hashlib.sha256(f"{settings.chroma_url}\n{settings.collection}".encode()).hexdigest()[:16]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "newsqa" / "locks" / digest


_LOCKS: dict[Path, IndexLock] = {}
_LOCKS_LOCK = threading.Lock()


def index_lock(settings: Settings) -> IndexLock:
    """The write lock of the index `settings` name: one object per index in this process, whichever Store asks."""
    folder = lock_folder(settings).absolute()
    with _LOCKS_LOCK:
        lock = _LOCKS.get(folder)
        if lock is None:
            lock = _LOCKS[folder] = IndexLock(folder, settings.chroma_url or str(settings.index_dir))
        return lock


class IndexLock:
    """The exclusive write lock of one index (get it with `index_lock`).

    Re-entrant in the thread that holds it (an ingest with `--rebuild` resets the store under the same lock); other
    threads and processes wait for it, up to `QA_LOCK_TIMEOUT` seconds.
    """

    def __init__(self, folder: Path, location: str) -> None:
        self.folder = folder
        self.location = location
        self._lock = filelock.FileLock(folder / LOCK_FILE, is_singleton=True)
        self._depth = threading.local()

    @property
    def held(self) -> bool:
        """Whether this thread holds the lock."""
        return bool(getattr(self._depth, "n", 0))

    @contextlib.contextmanager
    def hold(self, operation: str, timeout: float, on_wait: WaitCallback | None = None) -> Iterator[None]:
        """Hold the lock for `operation` ("ingest", "remove", "repair"); wait up to `timeout` seconds for another
        holder, saying so once through `on_wait` (or the log)."""
        if self.held:
            self._depth.n += 1
            try:
                yield
            finally:
                self._depth.n -= 1
            return
        self._acquire(timeout, on_wait)
        self._depth.n = 1
        try:
            (self.folder / HOLDER_FILE).write_text(f"{os.getpid()} {operation}\n", encoding="utf-8")
            yield
        finally:
            self._depth.n = 0
            with contextlib.suppress(OSError):
                (self.folder / HOLDER_FILE).unlink()
            self._lock.release()

    def _acquire(self, timeout: float, on_wait: WaitCallback | None) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IndexBusyError(
                f"Cannot create the lock of the index at {self.location} in {self.folder} ({exc})"
            ) from None
        try:
            self._lock.acquire(blocking=False)
            return
        except filelock.Timeout:
            pass
        except OSError as exc:
            raise IndexBusyError(
                f"Cannot lock the index at {self.location} ({self.folder / LOCK_FILE}: {exc}); check that the "
                "directory is writable"
            ) from None
        pid, other = self.holder()
        message = f"Waiting for another {other or 'write'} of {self.location} to finish (pid {pid or 'unknown'})…"
        (on_wait or log.warning)(message)
        started = time.monotonic()
        try:
            self._lock.acquire(timeout=timeout)
        except filelock.Timeout:
            pid, other = self.holder()
            raise IndexBusyError(
                f"Another {other or 'write'} of the index at {self.location} (pid {pid or 'unknown'}) was still "
                f"running after {time.monotonic() - started:.0f} s; let it finish and run this again, or wait longer "
                f"with QA_LOCK_TIMEOUT (seconds, now {timeout:g})"
            ) from None

    def holder(self) -> tuple[int | None, str]:
        """Pid and operation of the process holding the lock, as it wrote them (None, "" when unknown)."""
        try:
            pid, _, operation = (self.folder / HOLDER_FILE).read_text(encoding="utf-8").strip().partition(" ")
            return int(pid), operation
        except (OSError, ValueError):
            return None, ""


class WriteMark:
    """A token in a file next to the lock that every write changes: how readers see another process's write."""

    def __init__(self, settings: Settings) -> None:
        self.path = lock_folder(settings) / WRITES_FILE

    def read(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except OSError:
            return ""

    def bump(self) -> str:
        """A new token, written atomically (a reader never sees half of one); returns it."""
        token = uuid.uuid4().hex
        staging = self.path.with_name(f".{WRITES_FILE}-{os.getpid()}-{threading.get_ident()}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            staging.write_text(token, encoding="utf-8")
            staging.replace(self.path)
        except OSError as exc:  # a read-only index cannot be written either; the write itself reports that
            log.info("Could not mark the write in %s (%s)", self.path, exc)
        return token
