"""Articles uploaded through the web UI: checked against the upload limits, then kept beside the index.

An upload is copied into `Settings.uploads` under its own name before it is ingested, so its source is a
stable path (not a temporary file the browser upload left behind), and uploading the same file again is
recognised as unchanged.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from qa.settings import Settings


@dataclass(frozen=True)
class Upload:
    """An uploaded file: where it was kept, or why it was refused."""

    name: str
    path: Path | None
    error: str | None = None


def check_upload(name: str, size: int, settings: Settings) -> str | None:
    """Why an upload is refused (type, size, emptiness), with what to do; None when it is accepted."""
    lowered = name.lower()
    if not any(lowered.endswith(kind) for kind in settings.upload_types):
        kinds = ", ".join(settings.upload_types)
        return f"{name}: {Path(name).suffix or 'no file type'} is not accepted; upload one of {kinds}"
    limit = settings.upload_max_mb * 1024 * 1024
    if size > limit:
        return (
            f"{name}: {size / 1024 / 1024:.1f} MB is over the {settings.upload_max_mb:g} MB upload limit; split it, "
            "or ingest it with `qa ingest PATH` (or raise QA_UPLOAD_MAX_MB)"
        )
    if size == 0:
        return f"{name}: the file is empty; upload an article with text in it"
    return None


def keep_upload(path: str | Path, settings: Settings, name: str | None = None) -> Upload:
    """Check an uploaded file and copy it into the uploads folder; the result says where, or why not."""
    path = Path(path)
    name = Path(name or path.name).name  # never a path from the browser: only the bare file name
    try:
        size = path.stat().st_size
    except OSError as exc:
        return Upload(name, None, f"{name}: the upload could not be read ({exc.strerror}); upload it again")
    problem = check_upload(name, size, settings)
    if problem:
        return Upload(name, None, problem)
    target_dir = settings.uploads
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / name
    if path.resolve() != target.resolve():
        shutil.copyfile(path, target)
    return Upload(name, target)
