from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsError

from qa import Settings, SettingsWarning
from qa.settings import describe_settings_error, unknown_variables

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("127.0.0.1:11434", "http://127.0.0.1:11434"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("http://gpu-box:11434/", "http://gpu-box:11434"),
        ("https://ollama.example", "https://ollama.example"),
    ],
)
def test_ollama_host_is_read_from_ollamas_own_variable_and_normalised(
    monkeypatch: pytest.MonkeyPatch, raw: str, url: str
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", raw)
    assert Settings().ollama_host == url


def test_settings_come_from_qa_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_TOP_K", "7")
    monkeypatch.setenv("QA_BACKEND", "embedded")
    settings = Settings()
    assert (settings.top_k, settings.backend) == (7, "embedded")


def test_bad_values_are_rejected_at_load_time_with_the_field_named() -> None:
    with pytest.raises(ValidationError, match="top_k"):
        Settings(top_k=0)
    with pytest.raises(ValidationError, match="backend"):
        Settings(backend="openai")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="256"):
        Settings(chunk_tokens=400)
    with pytest.raises(ValidationError, match="chroma_url"):
        Settings(chroma_url="localhost:8000")


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ValidationError, match="top_kk"):
        Settings(top_kk=3)  # type: ignore[call-arg]


@pytest.mark.parametrize("url", ["localhost:8000", "http://host:8000/api", "http://host:port", "http://:8000"])
def test_a_chroma_url_that_is_not_http_host_port_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="QA_CHROMA_URL"):
        Settings(chroma_url=url)


def test_a_chroma_url_is_normalised_and_an_empty_one_means_the_local_index() -> None:
    assert Settings(chroma_url=" http://10.0.0.5:8000/ ").chroma_url == "http://10.0.0.5:8000"
    assert Settings(chroma_url="").chroma_url is None


@pytest.mark.parametrize("name", ["", "-articles", "news/2024", "a b", "x" * 401])
def test_a_collection_prefix_chroma_cannot_name_is_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="QA_COLLECTION"):
        Settings(collection=name)


def test_uploads_live_beside_a_local_index_and_in_the_user_cache_with_a_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert Settings(index_dir=tmp_path / "index").uploads == tmp_path / "index" / "uploads"
    remote = Settings(index_dir=tmp_path / "index", chroma_url="http://10.0.0.5:8000", collection="news")
    assert remote.uploads == tmp_path / "cache" / "newsqa" / "uploads" / "10.0.0.5-8000-news"
    assert remote.model_copy(update={"upload_dir": tmp_path / "up"}).uploads == tmp_path / "up"


# --- issue 12: empty values, bad URLs, unknown variables, errors by variable ---------------------


@pytest.mark.parametrize("raw", ["http://[::1", "http://gpu-box:port", "ftp://gpu-box:11434", "http://:11434"])
def test_an_ollama_host_that_is_not_a_url_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", raw)
    with pytest.raises(ValidationError, match="OLLAMA_HOST"):
        Settings()


def test_an_empty_index_dir_is_refused_and_an_empty_optional_path_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("", "  "):
        monkeypatch.setenv("QA_INDEX_DIR", value)
        with pytest.raises(ValidationError, match="QA_INDEX_DIR is empty"):
            Settings()
    monkeypatch.delenv("QA_INDEX_DIR")
    monkeypatch.setenv("QA_UPLOAD_DIR", "")
    monkeypatch.setenv("QA_EMBEDDED_MODEL_PATH", " ")
    settings = Settings()
    assert (settings.upload_dir, settings.embedded_model_path) == (None, None)


def test_a_qa_variable_that_is_no_setting_warns_naming_the_closest_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_TOPK", "3")
    monkeypatch.setenv("qa_backnd", "embedded")
    with pytest.warns(SettingsWarning) as caught:
        Settings()
    assert sorted(str(w.message) for w in caught) == [
        "QA_TOPK is not a setting and is ignored; did you mean QA_TOP_K?",
        "qa_backnd is not a setting and is ignored; did you mean QA_BACKEND?",
    ]
    assert unknown_variables({"QA_TOP_K": "3", "QA_OLLAMA_HOST": "x", "HOME": "/root"}) == []
    assert unknown_variables({"QA_ZZZZZZZZZ": "1"}) == [
        "QA_ZZZZZZZZZ is not a setting and is ignored (see the Configuration table in README.md)"
    ]


def test_settings_errors_are_described_by_their_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_TOP_K", "zero")
    with pytest.raises(ValidationError) as invalid:
        Settings()
    assert describe_settings_error(invalid.value) == (
        "top_k (QA_TOP_K): Input should be a valid integer, unable to parse string as an integer (got 'zero')"
    )
    monkeypatch.delenv("QA_TOP_K")
    monkeypatch.setenv("QA_UPLOAD_TYPES", "not-json")
    with pytest.raises(SettingsError) as unparsed:
        Settings()
    message = describe_settings_error(unparsed.value)
    assert message.startswith("QA_UPLOAD_TYPES (upload_types): cannot be read as JSON (Expecting value")
    assert message.endswith('write it as JSON, e.g. [".txt", ".md", ".html", ".htm", ".jsonl"]')
