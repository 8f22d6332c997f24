"""What an ingest reports: counts, the files it could not use and why, and its progress as it goes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, Field

from qa.errors import DocumentError


class FailedFile(BaseModel):
    path: str
    error: str


class IngestReport(BaseModel):
    """What an ingest did, article by article."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    replaced: int = Field(
        0, description="Older versions at the same URL, from another file, that a newer article replaced (removed)."
    )
    chunks: int = Field(0, description="Chunks written by this run.")
    failed: list[FailedFile] = Field(default_factory=list)
    extracted: dict[str, int] = Field(
        default_factory=dict,
        description='HTML articles read this run, by what found their text: "trafilatura", or "rules" when it found '
        "none.",
    )
    fetched: int = Field(0, description="Web pages and feeds downloaded by this run (robots.txt not counted).")
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass
class Progress:
    """How far an ingest has got; `bytes_done` of `bytes_total` (file sizes on disk) drives the ETA."""

    files_done: int
    files_total: int
    articles: int  # articles read so far, unchanged ones included
    chunks: int  # chunks written so far
    bytes_done: int = 0
    bytes_total: int = 0
    seconds: float = 0.0
    file: str = ""  # the file being read


ProgressCallback = Callable[[Progress], None]


class LineErrors:
    """Bad records of one JSON lines file, the same reason grouped: "lines 3–1002 (1,000 lines): missing …"."""

    def __init__(self) -> None:
        self.others: list[DocumentError] = []
        self.lines: dict[tuple[str, str], list[list[int]]] = {}  # (file, reason) -> runs [first, last]

    def add(self, error: DocumentError) -> None:
        if error.line is None:
            self.others.append(error)
            return
        runs = self.lines.setdefault((error.path.removesuffix(f":{error.line}"), error.reason), [])
        if runs and runs[-1][1] == error.line - 1:
            runs[-1][1] = error.line
        else:
            runs.append([error.line, error.line])

    def failures(self) -> list[FailedFile]:
        failed = [FailedFile(path=e.path, error=e.reason) for e in self.others]
        for (file, reason), runs in self.lines.items():
            count = sum(last - first + 1 for first, last in runs)
            if count == 1:
                failed.append(FailedFile(path=f"{file}:{runs[0][0]}", error=reason))
                continue
            shown_runs = [f"{a}" if a == b else f"{a}–{b}" for a, b in runs[:_RUNS_SHOWN]]
            more = f" and {len(runs) - _RUNS_SHOWN:,} more runs" if len(runs) > _RUNS_SHOWN else ""
            failed.append(
                FailedFile(path=file, error=f"lines {', '.join(shown_runs)}{more} ({count:,} lines): {reason}")
            )
        self.others, self.lines = [], {}
        return failed


_RUNS_SHOWN = 5
