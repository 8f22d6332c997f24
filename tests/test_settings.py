import pytest
from pydantic import ValidationError

from qa import Settings

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
