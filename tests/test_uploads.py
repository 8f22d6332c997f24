"""Upload limits: type, size and emptiness refused with the file's name and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa import Settings, check_upload, keep_upload

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


def test_kept_uploads_go_to_the_uploads_folder_under_their_bare_name(settings: Settings, tmp_path: Path) -> None:
    upload = tmp_path / "browser-tmp" / "note.txt"
    upload.parent.mkdir()
    upload.write_text("Title: A note\n\nSome text.", encoding="utf-8")
    kept = keep_upload(upload, settings, name="../../etc/note.txt")
    assert kept.error is None and kept.path == settings.index_dir / "uploads" / "note.txt"
    assert kept.path.read_text(encoding="utf-8").startswith("Title: A note")
    refused = keep_upload(upload, settings, name="note.exe")
    assert refused.path is None and refused.error is not None and "note.exe" in refused.error
    missing = keep_upload(tmp_path / "gone.txt", settings)
    assert missing.path is None and missing.error is not None and "upload it again" in missing.error
