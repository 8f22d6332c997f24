import codecs
import gzip
import json
from pathlib import Path

import pytest

from qa import DocumentError
from qa.ingest.documents import MAX_LINE_BYTES, MAX_TITLE_CHARS, Article
from qa.ingest.reading import file_hash, read_bytes, scan
from qa.ingest.stream import ArticleStream
from tests.conftest import SEED_EXCHANGE, SEED_OVERVIEW, SEEDS

pytestmark = pytest.mark.unit
MB = 1_000_000


def load(path: Path) -> list[Article | DocumentError]:
    """The articles of a file as ingest reads them: the file checked whole, then its articles one by one."""
    scan(path, 50 * MB)
    return list(ArticleStream(path, 50 * MB))


def only(path: Path) -> Article:
    (article,) = load(path)
    assert isinstance(article, Article)
    return article


def test_seed_header_gives_the_date_and_the_next_line_the_title() -> None:
    article = only(SEEDS / SEED_OVERVIEW)
    assert article.date == "2024-01-04"
    assert article.title == "Ukraine expects more prisoner exchanges, more deaths after rocket attack"
    assert article.text.startswith("NU.nl regularly gives you an overview")
    assert "date 2024-01-04" not in article.text


def test_article_without_date_header_stays_undated_even_if_its_text_names_a_date() -> None:
    article = only(SEEDS / SEED_EXCHANGE)
    assert article.date is None
    assert article.title == "Ukraine Targets Prisoner Exchange with Russia for 1,200 Soldiers"


def test_doc_id_is_stable_across_runs_and_changes_with_content(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Title\n\nBody one.")
    first, again = only(path), only(path)
    assert first.doc_id == again.doc_id
    path.write_text("Title\n\nBody two.")
    assert only(path).doc_id != first.doc_id


def test_text_field_header_gives_title_date_and_source(tmp_path: Path) -> None:
    path = tmp_path / "story.txt"
    path.write_text("Title: Dam opens\nDate: March 3, 2024\nURL: https://news.example/dam\n\nThe dam opened.")
    article = only(path)
    assert (article.title, article.date, article.source) == ("Dam opens", "2024-03-03", "https://news.example/dam")
    assert article.text == "The dam opened."


def test_markdown_front_matter_and_heading(tmp_path: Path) -> None:
    path = tmp_path / "story.md"
    path.write_text("---\ndate: 2024-02-01\nsource: Wire\n---\n# Floods in the north\n\nRivers rose overnight.\n")
    article = only(path)
    assert (article.title, article.date, article.source) == ("Floods in the north", "2024-02-01", "Wire")
    assert article.text == "Rivers rose overnight."


def test_html_metadata_and_paragraphs_without_scripts(tmp_path: Path) -> None:
    path = tmp_path / "story.html"
    path.write_text(
        "<html><head><title>Site | Story</title>"
        '<meta property="article:published_time" content="2024-05-06T08:00:00Z">'
        '<link rel="canonical" href="https://news.example/story"></head>'
        "<body><nav>Home</nav><article><h1>Bridge reopens</h1><p>The bridge reopened on Monday.</p>"
        "<script>alert('x')</script><p>Traffic is back.</p></article></body></html>"
    )
    article = only(path)
    assert (article.title, article.date, article.source) == (
        "Bridge reopens",
        "2024-05-06",
        "https://news.example/story",
    )
    assert article.text == "The bridge reopened on Monday.\n\nTraffic is back."


def test_jsonl_reads_each_line_and_reports_bad_lines_by_number(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    lines = [
        {"title": "One", "text": "First body.", "date": "2024-01-02", "url": "https://n.example/1"},
        "not json",
        {"title": "No text"},
        {"text": "Headline line\nBody of three.", "publish_date": "2024-01-03 09:00:00"},
    ]
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines))
    items = load(path)
    articles = [i for i in items if isinstance(i, Article)]
    errors = [i for i in items if isinstance(i, DocumentError)]
    assert [(a.title, a.date, a.source) for a in articles] == [
        ("One", "2024-01-02", "https://n.example/1"),
        ("Headline line", "2024-01-03", f"{path}:4"),
    ]
    assert [e.path for e in errors] == [f"{path}:2", f"{path}:3"]
    assert "'text'" in errors[1].reason


def test_gzipped_jsonl_is_read_transparently(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl.gz"
    path.write_bytes(gzip.compress(json.dumps({"title": "Zipped", "text": "Body."}).encode()))
    assert only(path).title == "Zipped"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"  \n\n ", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "binary"),
        ("Título\n\nCafé".encode("latin-1"), "not UTF-8"),
    ],
)
def test_unusable_files_raise_an_error_naming_the_file_and_the_fix(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=reason) as info:
        load(path)
    assert info.value.path == str(path)


def test_oversized_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"a" * 2000)
    with pytest.raises(DocumentError, match="QA_MAX_FILE_MB"):
        read_bytes(path, 1000)


# --- streaming ----------------------------------------------------------------------------------

BAD_CONTENTS = [
    (b"", "file is empty"),
    (b"  \n\n ", "file is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "looks binary"),
    ("Título\n\nCafé".encode("latin-1"), r"not UTF-8 \(bad byte at offset 1\)"),
    (b"x" * 3_000_000 + b"\xff", r"not UTF-8 \(bad byte at offset 3000000\)"),  # past the first read block
]


@pytest.mark.parametrize(("content", "reason"), BAD_CONTENTS)
@pytest.mark.parametrize("name", ["bad.jsonl", "bad.jsonl.gz", "bad.txt"])
def test_scan_refuses_what_read_bytes_and_decode_refuse_with_the_same_reason(
    tmp_path: Path, content: bytes, reason: str, name: str
) -> None:
    path = tmp_path / name
    path.write_bytes(gzip.compress(content) if name.endswith(".gz") else content)
    with pytest.raises(DocumentError, match=reason) as info:
        scan(path, 50 * MB)
    assert info.value.path == str(path)
    with pytest.raises(DocumentError, match=reason):
        load(path)


def test_scan_refuses_a_broken_gzip_and_an_oversized_file(tmp_path: Path) -> None:
    broken = tmp_path / "feed.jsonl.gz"
    broken.write_bytes(gzip.compress(b'{"text": "Body."}\n' * 100)[:-30])
    with pytest.raises(DocumentError, match="not a valid gzip file"):
        scan(broken, 50 * MB)
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"a" * 2000)
    with pytest.raises(DocumentError, match="QA_MAX_FILE_MB"):
        scan(big, 1000)


@pytest.mark.parametrize("name", ["feed.jsonl", "feed.jsonl.gz", "note.txt"])
def test_scan_hashes_the_content_as_before_so_existing_indexes_see_files_unchanged(tmp_path: Path, name: str) -> None:
    content = "\ufeff" + "".join(json.dumps({"id": i, "text": f"Body {i}. " * 50}) + "\n" for i in range(300))
    path = tmp_path / name
    path.write_bytes(gzip.compress(content.encode()) if name.endswith(".gz") else content.encode())
    assert scan(path, 50 * MB) == file_hash(read_bytes(path, 50 * MB))


def test_a_jsonl_stream_gives_what_parse_gives_line_numbers_included(tmp_path: Path) -> None:
    records = [json.dumps({"id": f"a{i}", "title": f"T{i}", "text": f"Body {i}."}) for i in range(5)]
    # A byte order mark, CRLF and lone CR line ends, blank lines and a bad record, as parse sees them.
    raw = "\ufeff" + records[0] + "\r\n" + records[1] + "\r" + records[2] + "\n\n{bad\n" + records[3] + "\r\n\r\n"
    raw += records[4]
    for name in ("feed.jsonl", "feed.jsonl.gz"):
        path = tmp_path / name
        path.write_bytes(gzip.compress(raw.encode()) if name.endswith(".gz") else raw.encode())
        streamed = list(ArticleStream(path, 50 * MB))
        parsed = load(path)
        assert [type(x) for x in streamed] == [type(x) for x in parsed]
        assert [x.path if isinstance(x, DocumentError) else x for x in streamed] == [
            x.path if isinstance(x, DocumentError) else x for x in parsed
        ]
        assert [x.path for x in streamed if isinstance(x, DocumentError)] == [f"{path}:5"]


def test_a_big_jsonl_file_is_read_as_it_is_consumed(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_text("".join(json.dumps({"id": i, "text": "Body. " * 2000}) + "\n" for i in range(200)))
    size = path.stat().st_size
    stream = ArticleStream(path, 50 * MB)
    items = iter(stream)
    next(items)
    assert 0 < stream.bytes_read < size / 4  # not the whole file for the first article
    assert sum(1 for _ in items) == 199
    assert stream.bytes_read == size


# --- caps, bombs and encodings (issue 12) ---------------------------------------------------------


def test_a_title_over_the_cap_is_cut_at_a_word_and_an_over_long_source_gives_way_to_the_path(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    record = {"title": "Breaking news " * 100, "url": "https://x.example/" + "a" * 5000, "text": "The body."}
    path.write_text(json.dumps(record) + "\n")
    article = only(path)
    assert len(article.title) <= MAX_TITLE_CHARS and article.title.endswith("news...")
    assert article.source == f"{path}:1"


def test_a_date_value_over_the_cap_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "story.txt"
    path.write_text("Title: Dam\nDate: 2024-03-03" + " " * 100 + "x\n\nThe dam opened.")
    assert only(path).date is None


def test_front_matter_aliases_are_refused_before_they_expand(tmp_path: Path) -> None:
    path = tmp_path / "bomb.md"
    path.write_text('---\na: &a ["lol", "lol"]\ntitle: [*a, *a]\n---\nBody.\n')
    with pytest.raises(DocumentError, match="YAML alias"):
        load(path)


def test_front_matter_closed_on_the_last_line_or_empty_is_still_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "story.md"
    path.write_text("---\n---\n# Floods\n\nRivers rose.")
    assert (only(path).title, only(path).text) == ("Floods", "Rivers rose.")
    path.write_text("---\ntitle: Floods\ndate: 2024-02-01\n---")
    with pytest.raises(DocumentError, match="no visible text"):
        load(path)


def test_a_rule_on_the_first_line_is_not_a_title(tmp_path: Path) -> None:
    path = tmp_path / "story.txt"
    path.write_text("***\nThe river rose overnight.\n")
    assert only(path).title == "story"


def test_the_size_limit_holds_for_what_a_gzip_file_inflates_to(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl.gz"
    path.write_bytes(gzip.compress((json.dumps({"text": "word " * 500}) + "\n").encode() * 2000))  # 5 MB inflated
    assert path.stat().st_size < 100_000
    for read in (
        lambda: scan(path, 4 * MB),
        lambda: read_bytes(path, 4 * MB),
        lambda: list(ArticleStream(path, 4 * MB)),
    ):
        with pytest.raises(DocumentError, match="decompresses to more than 4 MB"):
            read()


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32", "utf-32-be"])
def test_utf16_and_utf32_files_are_read_by_their_byte_order_mark(tmp_path: Path, codec: str) -> None:
    bom = {"utf-16": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE, "utf-32": codecs.BOM_UTF32_LE}
    mark = bom.get(codec, codecs.BOM_UTF32_BE)
    plain = codec if codec.endswith("-be") else codec + "-le"
    text = tmp_path / "story.txt"
    text.write_bytes(mark + "Title: Zürich tram\r\n\r\nThe tram runs again.\r\n".encode(plain))
    assert (only(text).title, only(text).text) == ("Zürich tram", "The tram runs again.")
    assert scan(text, 50 * MB) == file_hash(read_bytes(text, 50 * MB))
    feed = tmp_path / "feed.jsonl"
    lines = "".join(json.dumps({"id": i, "title": f"T{i}", "text": f"Body {i} ✓."}) + "\n" for i in range(3000))
    feed.write_bytes(mark + lines.encode(plain))
    streamed = list(ArticleStream(feed, 50 * MB))
    assert [a.title for a in streamed if isinstance(a, Article)] == [f"T{i}" for i in range(3000)]


def test_a_byte_order_mark_in_front_of_binary_data_is_still_binary(tmp_path: Path) -> None:
    path = tmp_path / "fake.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + "Looks like text".encode("utf-16-le") + b"\x00\x00" * 10)
    for read in (lambda: scan(path, 50 * MB), lambda: load(path)):
        with pytest.raises(DocumentError, match="looks binary"):
            read()


@pytest.mark.parametrize("offset", [9000, 3_000_000])  # past the first 8 KiB, and past the first read block
def test_nul_bytes_anywhere_in_a_file_mean_it_is_binary(tmp_path: Path, offset: int) -> None:
    path = tmp_path / "late.txt"
    path.write_bytes(b"Title\n\n" + b"a" * offset + b"\x00\x01" + b"b" * 100)
    for read in (lambda: scan(path, 50 * MB), lambda: load(path)):
        with pytest.raises(DocumentError, match="looks binary"):
            read()


def test_a_json_line_over_the_cap_is_reported_without_being_kept(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    with path.open("w") as out:
        out.write(json.dumps({"text": "x" * (MAX_LINE_BYTES + 10)}) + "\n" + json.dumps({"text": "Fine body."}) + "\n")
    items = list(ArticleStream(path, 50 * MB))
    assert isinstance(items[0], DocumentError) and items[0].path == f"{path}:1" and "longer than" in items[0].reason
    assert isinstance(items[1], Article) and items[1].text == "Fine body."
