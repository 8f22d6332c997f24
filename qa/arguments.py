"""The public API's arguments, checked before anything runs: a wrong one is an InputError that names it and says
what to pass, never a traceback from deep inside (the CLI and the UI pass what users typed straight through)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from qa.errors import InputError
from qa.settings import MAX_TOP_K


def check_question(question: object) -> str:
    if not isinstance(question, str):
        hint = " (decode it first, e.g. question.decode('utf-8'))" if isinstance(question, bytes) else ""
        raise InputError(f"question must be a str, got {type(question).__name__} {question!r:.80}{hint}")
    try:
        question.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"question holds a lone surrogate (\\u{ord(question[exc.start]):04x} at character {exc.start}), which is "
            "not text; pass the question as valid Unicode"
        ) from None
    question = " ".join(question.split())
    if not question:
        raise InputError("The question is empty; ask something about the indexed articles")
    if len(question) > 2000:
        raise InputError(f"The question is {len(question)} characters long; keep it under 2,000")
    return question


def check_top_k(top_k: object) -> int | None:
    if top_k is None:
        return None
    if isinstance(top_k, bool) or not isinstance(top_k, int):
        raise InputError(f"top_k must be an int between 1 and {MAX_TOP_K}, got {top_k!r} ({type(top_k).__name__})")
    if not 1 <= top_k <= MAX_TOP_K:
        raise InputError(f"top_k must be between 1 and {MAX_TOP_K}, got {top_k}")
    return top_k


def check_paths(paths: object) -> list[str | Path]:
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    if paths is None or isinstance(paths, bytes) or not isinstance(paths, Iterable):
        raise InputError(f"paths must be a list of files or folders to ingest, got {paths!r:.80}")
    checked: list[str | Path] = []
    for n, path in enumerate(paths, start=1):
        if not isinstance(path, str | os.PathLike) or isinstance(os.fspath(path), bytes):
            raise InputError(f"path {n} must be a str or pathlib.Path, got {type(path).__name__} {path!r:.80}")
        if isinstance(path, str) and not path.strip():
            raise InputError(
                f"path {n} is empty ({path!r}); name a file or folder to ingest (for the current folder, give '.')"
            )
        checked.append(path if isinstance(path, str) else Path(path))
    return checked


def check_ids(doc_ids: object) -> list[str]:
    if isinstance(doc_ids, str):
        doc_ids = [doc_ids]
    if doc_ids is None or isinstance(doc_ids, bytes) or not isinstance(doc_ids, Iterable):
        raise InputError(f"doc_ids must be a list of article ids (see articles()), got {doc_ids!r:.80}")
    ids = list(doc_ids)
    for n, doc_id in enumerate(ids, start=1):
        if not isinstance(doc_id, str):
            raise InputError(f"doc id {n} must be a str, got {type(doc_id).__name__} {doc_id!r:.80}")
    return ids
