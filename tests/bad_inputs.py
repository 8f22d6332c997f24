"""Every bad input of issue 12 (items 8, 9 and 12), with what an ingest must do with each.

`write_bad_inputs(folder)` writes them all into one folder beside two good articles; `BAD_INPUTS` writes one at a
time (tests/test_bad_input.py ingests each beside a good article). `check(case, folder, failed, records)` says
whether an ingest report and the indexed articles treat a case as they must, and `tally` counts a whole run for
the fault suite: bad inputs tried, reported per file, indexed anyway, aborted the run.

Two cases only mean something when file permissions hold (`needs_permissions`): root reads a chmod 000 file.
`permissions_hold()` gives a command prefix under which they do (for root: setpriv without the two capabilities
that bypass them), or None when the caller should skip those cases.
"""

from __future__ import annotations

import codecs
import gzip
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from qa.ingest.documents import MAX_LINE_BYTES, MAX_TITLE_CHARS

GOOD_TEXT = "Title: Rail strike ends\nDate: 2024-03-01\n\nThe rail strike in Lyon ended on Friday after nine days.\n"
GOOD_LINE = json.dumps({"id": "good", "title": "Dam opens", "text": "The new dam in Porto opened on Monday."})
BODY = "The council of Ghent approved a new bicycle bridge over the Leie on Tuesday evening."

Outcome = Literal["reported", "indexed", "partly"]


@dataclass(frozen=True)
class BadInput:
    """One bad input: the file (or folder) it is, what an ingest must do with it, and how to make it.

    `expect`: "reported" (a failure names it, nothing of it is indexed), "indexed" (read despite its oddity, no
    failure), "partly" (JSON lines: its bad line is reported, its good line indexed). `reason` is a regex the
    failure's error must match; `failures` how many failure lines it gives (one, when bad lines are grouped).
    """

    name: str  # relative to the folder, as it appears in the report (bytes of a non-UTF-8 name as \xNN)
    item: int
    what: str
    expect: Outcome
    reason: str
    make: Callable[[Path], None]
    failures: int = 1
    needs_permissions: bool = False


def _text(name: str, content: str, encoding: str = "utf-8") -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        (folder / name).write_bytes(content.encode(encoding))

    return make


def _data(name: str, content: bytes) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        (folder / name).write_bytes(content)

    return make


def _lines(name: str, *lines: str) -> Callable[[Path], None]:
    return _text(name, "\n".join([GOOD_LINE, *lines]) + "\n")


def _non_utf8_name(folder: Path) -> None:
    (Path(os.fsdecode(os.fsencode(folder) + b"/\xe9\xff.txt"))).write_text(GOOD_TEXT, encoding="utf-8")


def _locked_file(folder: Path) -> None:
    path = folder / "locked.txt"
    path.write_text(GOOD_TEXT, encoding="utf-8")
    path.chmod(0)


def _locked_folder(folder: Path) -> None:
    inside = folder / "locked-folder"
    inside.mkdir()
    (inside / "inside.txt").write_text(GOOD_TEXT, encoding="utf-8")
    inside.chmod(0)


def _inflating(limit_mb: float) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        line = (json.dumps({"title": "Padding", "text": "word " * 2000}) + "\n").encode()
        size = int(limit_mb * 1_000_000) + 1_000_000
        with gzip.open(folder / "inflates.jsonl.gz", "wb", compresslevel=6) as out:
            for _ in range(size // len(line) + 1):
                out.write(line)

    return make


def _alias_bomb(folder: Path) -> None:
    # 9 x 9 x 9 x 9 "lol"s from a few hundred bytes; a few more levels would need gigabytes.
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abc", "bcd"):
        levels.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    levels.append("title: [" + ",".join(["*d"] * 9) + "]")
    (folder / "alias-bomb.md").write_text("---\n" + "\n".join(levels) + "\n---\n" + BODY + "\n", encoding="utf-8")


def _long_line(folder: Path) -> None:
    with (folder / "long-line.jsonl").open("w", encoding="utf-8") as out:
        out.write(GOOD_LINE + "\n")
        out.write(json.dumps({"title": "Huge", "text": "x" * (MAX_LINE_BYTES + 100)}) + "\n")


def _fifo(folder: Path) -> None:
    os.mkfifo(folder / "pipe.txt")


def _dangling(folder: Path) -> None:
    (folder / "dangling.txt").symlink_to(folder / "never-there.txt")


def _outside_link(folder: Path) -> None:
    outside = folder.parent / f"{folder.name}-outside"
    outside.mkdir(exist_ok=True)
    (outside / "private.txt").write_text("Title: Private\n\nA file that lives outside the ingested folder.\n")
    (folder / "outside-link.txt").symlink_to(outside / "private.txt")


def _inside_link(folder: Path) -> None:
    (folder / "sub").mkdir(exist_ok=True)
    (folder / "sub" / "linked-target.txt").write_text("Title: Linked\n\n" + BODY + "\n", encoding="utf-8")
    (folder / "inside-link.txt").symlink_to(Path("sub") / "linked-target.txt")


def bad_inputs(limit_mb: float = 50.0) -> list[BadInput]:
    """The cases; `limit_mb` is the QA_MAX_FILE_MB of the ingest (the .gz case inflates past it)."""
    long_title = "Breaking " * 600
    return [
        # --- item 8: inputs that aborted the whole run ---
        BadInput(
            "big-number.jsonl",
            8,
            "a JSON number of 5,000 digits",
            "partly",
            r":2\b.*number of 5,000 digits",
            _lines("big-number.jsonl", '{"text": "' + BODY + '", "views": ' + "7" * 5000 + "}"),
        ),
        BadInput(
            "deep.jsonl",
            8,
            "JSON nested 100,000 deep",
            "partly",
            r"nested too deeply",
            _lines("deep.jsonl", "[" * 100_000 + "]" * 100_000),
        ),
        BadInput(
            "surrogate.jsonl",
            8,
            'a lone surrogate escape ("\\ud800")',
            "partly",
            r"lone surrogate \(\\ud800",
            _lines("surrogate.jsonl", '{"title": "Half", "text": "' + BODY + ' \\ud800 end."}'),
        ),
        BadInput(
            "bad-date.md",
            8,
            "YAML front matter with an impossible date (2024-02-30)",
            "reported",
            r"date '2024-02-30' is not a day",
            _text("bad-date.md", "---\ntitle: Leap\ndate: 2024-02-30\n---\n" + BODY + "\n"),
        ),
        BadInput(
            "\\xe9\\xff.txt",
            8,
            "a file name that is not valid UTF-8 (bytes e9 ff)",
            "reported",
            r"name is not valid UTF-8",
            _non_utf8_name,
        ),
        BadInput(
            "locked.txt",
            8,
            "an unreadable file (chmod 000)",
            "reported",
            r"permission denied",
            _locked_file,
            needs_permissions=True,
        ),
        BadInput(
            "locked-folder",
            8,
            "an unsearchable folder (chmod 000)",
            "reported",
            r"folder cannot be searched",
            _locked_folder,
            needs_permissions=True,
        ),
        # --- item 9: bombs ---
        BadInput("alias-bomb.md", 9, "a YAML alias bomb in front matter", "reported", r"YAML alias", _alias_bomb),
        BadInput(
            "long-title.md",
            9,
            f"a title of {len(long_title):,} characters (cut to {MAX_TITLE_CHARS})",
            "indexed",
            "",
            _text("long-title.md", f"---\ntitle: {long_title}\n---\n{BODY}\n"),
        ),
        BadInput(
            "long-url.jsonl",
            9,
            "a url of 100,000 characters (replaced by the file and line)",
            "indexed",
            "",
            _text("long-url.jsonl", json.dumps({"url": "https://x.example/" + "a" * 100_000, "text": BODY}) + "\n"),
        ),
        BadInput(
            "inflates.jsonl.gz",
            9,
            f"a .jsonl.gz that inflates past QA_MAX_FILE_MB ({limit_mb:g} MB)",
            "reported",
            r"decompresses to more than",
            _inflating(limit_mb),
        ),
        BadInput(
            "long-line.jsonl",
            9,
            f"a JSON line over {MAX_LINE_BYTES / 1e6:g} MB",
            "partly",
            r":2\b.*longer than",
            _long_line,
        ),
        # --- item 12: honest reports, no junk ---
        BadInput(
            "many-bad-lines.jsonl",
            12,
            "1,000 lines with the same error",
            "partly",
            r"lines 2–1001 \(1,000 lines\): missing field 'text'",
            _lines("many-bad-lines.jsonl", *[json.dumps({"title": f"No body {i}"}) for i in range(1000)]),
        ),
        BadInput(
            "utf16.txt",
            12,
            "UTF-16 text with a byte order mark",
            "indexed",
            "",
            _text("utf16.txt", "Title: Tram line\n\n" + BODY + " Überall.\n", "utf-16"),
        ),
        BadInput(
            "utf16-be.jsonl",
            12,
            "UTF-16 (big endian) JSON lines with a byte order mark",
            "indexed",
            "",
            _data("utf16-be.jsonl", codecs.BOM_UTF16_BE + (GOOD_LINE + "\n").encode("utf-16-be")),
        ),
        BadInput(
            "fake-utf16.txt",
            12,
            "binary data behind a UTF-16 byte order mark",
            "reported",
            r"binary",
            _data("fake-utf16.txt", codecs.BOM_UTF16_LE + b"A\x00" * 64 + b"\x00\x00" * 64),
        ),
        BadInput("pipe.txt", 12, "a FIFO (named pipe)", "reported", r"is a FIFO \(named pipe\), not a file", _fifo),
        BadInput(
            "dangling.txt",
            12,
            "a dangling symbolic link",
            "reported",
            r"is a symbolic link to .*never-there\.txt, which does not exist",
            _dangling,
        ),
        BadInput(
            "zero-width.txt",
            12,
            "text that is only zero-width characters",
            "reported",
            r"no visible text",
            _text("zero-width.txt", "\u200b\u200c\u2060\n\n\u200b\ufeff\u200d\n"),
        ),
        BadInput(
            "zero-width.jsonl",
            12,
            "a JSON line whose text is only zero-width characters",
            "partly",
            r"no visible characters",
            _lines("zero-width.jsonl", json.dumps({"title": "Blank", "text": "\u200b\u200b\u2060"})),
        ),
        BadInput(
            "no-body.html",
            12,
            "HTML with a headline and no body",
            "reported",
            r"no body text",
            _text("no-body.html", "<html><head><title>Site</title></head><body><h1>Only a headline</h1></body></html>"),
        ),
        BadInput(
            "late-nul.txt",
            12,
            "NUL bytes past the first 8 KiB",
            "reported",
            r"binary",
            _data("late-nul.txt", ("Title: Late\n\n" + BODY * 200).encode() + b"\x00\x01\x02" + BODY.encode()),
        ),
        BadInput(
            "unterminated.md",
            12,
            "front matter that is never closed (its title would be ---)",
            "reported",
            r"never closed",
            _text("unterminated.md", "---\ntitle: Lost\n\n" + BODY + "\n"),
        ),
        BadInput(
            "outside-link.txt",
            12,
            "a symbolic link to a file outside the folder",
            "reported",
            r"outside the folder",
            _outside_link,
        ),
        BadInput(
            "inside-link.txt",
            12,
            "a symbolic link to a file inside the folder (fine: read once)",
            "indexed",
            "",
            _inside_link,
        ),
    ]


GOOD_FILES = {"good.txt": GOOD_TEXT, "good.jsonl": GOOD_LINE + "\n"}


def write_good(folder: Path) -> None:
    for name, content in GOOD_FILES.items():
        (folder / name).write_text(content, encoding="utf-8")


def write_bad_inputs(folder: Path, *, permissions: bool = True, limit_mb: float = 50.0) -> list[BadInput]:
    """Write every bad input and two good articles into `folder` (made if needed); the cases written.

    Ingest `folder.resolve()`, and call `restore_permissions(folder)` before deleting it. Without `permissions`
    the two chmod 000 cases are left out (for a caller that cannot make permissions hold).
    """
    folder.mkdir(parents=True, exist_ok=True)
    write_good(folder)
    cases = [c for c in bad_inputs(limit_mb) if permissions or not c.needs_permissions]
    for case in cases:
        case.make(folder)
    return cases


def restore_permissions(folder: Path) -> None:
    for parent, folders, names in os.walk(folder):
        for name in folders + names:
            path = Path(parent) / name
            if not path.is_symlink():
                path.chmod(0o755 if path.is_dir() else 0o644)
    for parent, folders, _ in os.walk(folder):  # folders unlocked above can be walked now
        for name in folders:
            (Path(parent) / name).chmod(0o755)


def _matches(failure_path: str, path: str) -> bool:
    return failure_path == path or failure_path.startswith(path + ":")


def check(case: BadInput, folder: Path, failed: Sequence[Mapping[str, str]], records: Iterable[Any]) -> str | None:
    """None when the ingest treated `case` as it must; else what went wrong, in words.

    `failed` is the report's failures ({"path", "error"}), `records` the indexed articles (objects or dicts with
    `file`, `title` and `source`).
    """
    folder = folder.resolve()
    path = f"{os.fsdecode(folder)}/{case.name}"
    mine = [f for f in failed if _matches(f["path"], path)]
    rows = [r if isinstance(r, Mapping) else vars(r) for r in records]
    target = str((folder / case.name).resolve()) if case.expect == "indexed" else path
    indexed = [r for r in rows if r["file"] == target]
    if case.expect in ("reported", "partly"):
        if len(mine) != case.failures:
            return f"expected {case.failures} failure line(s) naming it, got {[f['error'] for f in mine] or 'none'}"
        if not re.search(case.reason, f"{mine[0]['path']}: {mine[0]['error']}"):
            return f"failure {mine[0]['error']!r} does not match {case.reason!r}"
        if case.expect == "reported" and indexed:
            return f"reported, but indexed anyway: {[r['title'] for r in indexed]}"
        if case.expect == "partly" and [r["title"] for r in indexed] != ["Dam opens"]:
            return f"expected its good line indexed (and only that), got {[r['title'] for r in indexed]}"
        return None
    if mine:
        return f"expected it indexed without a failure, got {[f['error'] for f in mine]}"
    if not indexed:
        return "expected it indexed, it is not"
    if any(len(r["title"]) > MAX_TITLE_CHARS or len(r["source"]) > 2048 for r in indexed):
        return f"indexed with an uncapped title or source ({max(len(r['title']) for r in indexed)} characters)"
    return None


@dataclass
class Tally:
    """One ingest of the bad-input folder, counted as the fault suite prints it."""

    tried: int = 0
    reported: int = 0  # reported per file (or line) as expected, or read as expected
    indexed_anyway: int = 0  # a bad input that became an article
    wrong: int = 0  # any other miss: not reported, a wrong reason, a good file lost
    aborted: int = 0  # the run itself failed
    problems: list[str] | None = None


def tally(
    cases: Sequence[BadInput],
    folder: Path,
    report: Mapping[str, Any] | None,
    records: Iterable[Any],
    aborted: bool = False,
) -> Tally:
    """Count one run over `write_bad_inputs(folder)`: `report` is `qa ingest --json`'s (None when it aborted)."""
    result = Tally(tried=len(cases), problems=[])
    if aborted or report is None:
        result.aborted = 1
        return result
    rows = list(records)
    for case in cases:
        problem = check(case, folder, report["failed"], rows)
        if problem is None:
            result.reported += 1
        elif "indexed anyway" in problem:
            result.indexed_anyway += 1
        else:
            result.wrong += 1
        if problem:
            assert result.problems is not None
            result.problems.append(f"{case.name} ({case.what}): {problem}")
    return result


# --- running an ingest where file permissions hold --------------------------------------------

# Root bypasses file permissions through these two capabilities; without them root is an ordinary owner. (Dropping
# to another uid would not do here: the interpreter lives under /root, which other users cannot enter.)
_NO_OVERRIDE = ["--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search"]


def permissions_hold(probe_dir: Path) -> list[str] | None:
    """A command prefix under which a chmod 000 file cannot be read ([] when that is already so), or None."""
    probe = probe_dir / ".permission-probe"
    probe.write_text("x")
    probe.chmod(0)
    try:
        prefix: list[str] = []
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                return None
            prefix = [setpriv, *_NO_OVERRIDE]
        readable = subprocess.run([*prefix, "cat", str(probe)], capture_output=True, timeout=30).returncode == 0
        return None if readable else prefix
    finally:
        probe.chmod(0o644)
        probe.unlink()
