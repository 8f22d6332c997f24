"""Uploads: limits refused with the file's name and what to do; only received files read; kept by content."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest

from qa import Settings, check_upload, keep_upload
from qa.ingest.uploads import received_path

pytestmark = pytest.mark.unit


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(index_dir=tmp_path / "index", upload_max_mb=1)


def test_accepted_types_and_sizes_pass(settings: Settings) -> None:
    for name in ("a.txt", "b.MD", "c.html", "d.jsonl"):
        assert check_upload(name, 10, settings) is None


def test_a_wrong_type_names_the_file_and_the_accepted_ones(settings: Settings) -> None:
    problem = check_upload("slides.pdf", 10, settings)
    assert problem is not None and problem.startswith("slides.pdf: .pdf is not accepted") and ".jsonl" in problem


def test_an_oversized_or_empty_file_is_refused_with_the_fix(settings: Settings) -> None:
    big = check_upload("big.txt", 3 * 1024 * 1024, settings)
    assert big is not None and "big.txt: 3.0 MB is over the 1 MB upload limit" in big and "qa ingest" in big
    empty = check_upload("empty.txt", 0, settings)
    assert empty is not None and "empty" in empty


@pytest.mark.parametrize("name", ["a\x00b.txt", "tab\there.txt", "\ud800.txt", "x" * 250 + ".txt", "..", ""])
def test_a_name_no_file_can_have_is_refused_before_any_file_is_opened(settings: Settings, name: str) -> None:
    # Any HTTP client can send these as an upload's file name (the HTTP API takes the name it is sent).
    problem = check_upload(name, 10, settings)
    assert problem is not None and "not a usable file name" in problem


def test_a_name_in_another_script_is_usable(settings: Settings) -> None:
    assert check_upload("Київ — нічна атака.txt", 10, settings) is None


def received(tmp_path: Path, name: str, text: str) -> Path:
    """A file as the web server received it, in its upload folder (`tmp_path / "inbox"`)."""
    path = tmp_path / "inbox" / "3f2a" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_kept_uploads_go_to_a_folder_named_by_their_content_under_their_bare_name(
    settings: Settings, tmp_path: Path
) -> None:
    upload = received(tmp_path, "note.txt", "Title: A note\n\nSome text.")
    kept = keep_upload(upload, settings, name="../../etc/note.txt", received_in=tmp_path / "inbox")
    assert kept.error is None and kept.path is not None
    digest = hashlib.sha256(upload.read_bytes()).hexdigest()[:16]
    assert kept.path == settings.index_dir / "uploads" / digest / "note.txt"
    assert kept.path.read_text(encoding="utf-8").startswith("Title: A note")
    refused = keep_upload(upload, settings, name="note.exe", received_in=tmp_path / "inbox")
    assert refused.path is None and refused.error is not None and "note.exe" in refused.error
    gone = tmp_path / "inbox" / "gone.txt"
    missing = keep_upload(gone, settings, received_in=tmp_path / "inbox")
    assert missing.path is None and not missing.refused
    assert missing.error == "gone.txt: the upload is no longer on the server; upload it again"
    assert not list((settings.index_dir / "uploads").glob(".incoming-*"))  # no spool file left behind


def test_two_uploads_of_one_name_with_other_content_are_both_kept(settings: Settings, tmp_path: Path) -> None:
    first = keep_upload(received(tmp_path, "same.txt", "Title: One\n\nFirst."), settings, received_in=tmp_path)
    second = keep_upload(received(tmp_path / "b", "same.txt", "Title: Two\n\nSecond."), settings, received_in=tmp_path)
    assert first.path is not None and second.path is not None and first.path != second.path
    assert first.path.name == second.path.name == "same.txt"
    assert first.path.read_text(encoding="utf-8").endswith("First.")
    assert second.path.read_text(encoding="utf-8").endswith("Second.")


def test_the_same_content_uploaded_again_is_kept_at_the_same_path(settings: Settings, tmp_path: Path) -> None:
    text = "Title: One\n\nFirst."
    first = keep_upload(received(tmp_path, "same.txt", text), settings, received_in=tmp_path)
    again = keep_upload(received(tmp_path / "later", "same.txt", text), settings, received_in=tmp_path)
    assert first.path is not None and again.path == first.path
    assert len(list((settings.index_dir / "uploads").rglob("same.txt"))) == 1


def test_a_path_outside_the_upload_folder_is_refused_logged_and_not_copied(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "inbox").mkdir()
    server_file = tmp_path / "server" / "secret.txt"
    server_file.parent.mkdir()
    server_file.write_text("Title: Secret\n\nNot uploaded.", encoding="utf-8")
    # A missing server file is refused like an existing one: the reply must not tell which files exist.
    missing = tmp_path / "server" / "missing.txt"
    for path in (server_file, tmp_path / "inbox" / ".." / "server" / "secret.txt", Path("/etc/passwd"), missing):
        with caplog.at_level(logging.WARNING, logger="qa.ingest.uploads"):
            kept = keep_upload(path, settings, name="secret.txt", received_in=tmp_path / "inbox")
        assert kept.path is None and kept.refused and kept.error is not None
        assert kept.error.startswith("secret.txt: refused: only files uploaded through this page are read")
        assert str(path) in caplog.text
        caplog.clear()
    assert not (settings.index_dir / "uploads").exists()


def test_a_symlink_in_the_upload_folder_to_a_server_file_is_refused(settings: Settings, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "passwd.txt").symlink_to("/etc/passwd")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "note.txt").write_text("Title: Elsewhere\n\nText.", encoding="utf-8")
    (inbox / "linked").symlink_to(outside, target_is_directory=True)
    for link in (inbox / "passwd.txt", inbox / "linked" / "note.txt"):
        kept = keep_upload(link, settings, received_in=inbox)
        assert kept.path is None and kept.refused, link
    assert not (settings.index_dir / "uploads").exists()


def test_received_path_resolves_links_inside_the_folder(tmp_path: Path) -> None:
    real = received(tmp_path, "a.txt", "text")
    link = tmp_path / "inbox" / "b.txt"
    link.symlink_to(real)
    assert received_path(link, tmp_path / "inbox") == real.resolve()
    assert received_path(tmp_path / "inbox" / "missing.txt", tmp_path / "inbox") is None
    assert received_path(real, tmp_path / "no-such-folder") is None
