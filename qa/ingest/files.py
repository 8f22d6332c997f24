"""Which files an ingest reads, and what is refused before any file is opened.

A folder is walked without following links out of it, and everything that is not a regular article file is
named for what it is: a FIFO (opening one would block the ingest for ever), a socket or device, a dangling
link, a link to a file outside the folder, a folder that cannot be searched, a name that is not UTF-8 (it
cannot be stored, printed or sent as JSON). Each becomes one line of the ingest report; the walk goes on.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from qa.ingest import documents
from qa.ingest.reading import suffix_of


def shown(path: str | os.PathLike[str]) -> str:
    """The path as text that can always be printed and stored: bytes of a name that is not UTF-8 as \\xNN."""
    try:
        return os.fsencode(path).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a str path holding a lone surrogate that no file name can have
        return os.fspath(path).encode("utf-8", "backslashreplace").decode("utf-8")


def walk(paths: Iterable[str | Path]) -> Iterator[tuple[Path, str | None]]:
    """Files to ingest under the given paths, each with None or the reason it is not read."""
    for raw in paths:
        path = Path(raw).expanduser()
        try:
            is_dir = path.is_dir()
        except OSError as exc:
            yield path, _unreachable(exc)
            continue
        if is_dir:
            yield from _walk_folder(path)
        else:
            yield path, problem(path)


def problem(path: Path, folder: Path | None = None) -> str | None:
    """Why `path` is not read as an article, or None; `folder` is the ingested folder it was found in."""
    if shown(path) != str(path):
        return "the file name is not valid UTF-8; rename the file so its name is UTF-8"
    try:
        if path.is_symlink():
            target = Path(os.readlink(path))
            if not path.exists():
                return f"is a symbolic link to {shown(target)}, which does not exist"
            resolved = path.resolve()
            if folder is not None and not resolved.is_relative_to(folder.resolve()):
                return (
                    f"is a symbolic link to {shown(resolved)}, outside the folder {shown(folder)}; links out of an "
                    "ingested folder are not followed (ingest that file itself, or copy it in)"
                )
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "no such file or directory"
    except OSError as exc:
        return _unreachable(exc)
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe), not a file; it is not opened (reading one waits for a writer)"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a file"
    if not stat.S_ISREG(mode):
        return "is not a regular file"
    if not documents.is_supported(path):
        kinds = ", ".join(documents.SUPPORTED_SUFFIXES)
        return f"unsupported file type {suffix_of(path) or '(none)'} (supported: {kinds})"
    return None


def _walk_folder(folder: Path) -> Iterator[tuple[Path, str | None]]:
    found: list[tuple[Path, str | None]] = []

    def unsearchable(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else folder
        found.append((where, f"folder cannot be searched ({exc.strerror or exc}); make it readable, e.g. chmod u+rx"))

    # os.walk does not descend into links to folders, so a walk never leaves the folder nor loops.
    for parent, folders, names in os.walk(folder, onerror=unsearchable):
        here = Path(parent)
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in folders:
            if (here / name).is_symlink():
                found.append((here / name, _linked_folder(here / name, folder)))
        for name in names:
            if not name.startswith("."):
                found.append((here / name, problem(here / name, folder)))
    found = [(path, reason) for path, reason in found if reason != ""]
    yield from sorted(found, key=lambda item: item[0].parts)


def _linked_folder(link: Path, folder: Path) -> str:
    """'' (nothing to say) for a link to a folder inside the walked one: its files are walked where they are."""
    target = link.resolve()
    if target.is_relative_to(folder.resolve()):
        return ""
    return (
        f"is a symbolic link to the folder {shown(target)}, outside {shown(folder)}; links out of an ingested folder "
        "are not followed (ingest that folder itself)"
    )


def _unreachable(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "cannot be reached (permission denied on it or a folder above it); make the folders searchable"
    return f"cannot be reached ({exc.strerror or exc})"


def is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # behind a folder that cannot be searched: walk() has reported it
        return False


def may_exist(file: str) -> bool:
    """False only when the file is certainly gone; a folder that cannot be searched says nothing about it."""
    try:
        os.stat(file)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return True


def size_on_disk(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
