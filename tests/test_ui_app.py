"""The web UI served on loopback and driven through gradio_client: ask, follow up, upload, delete."""

from __future__ import annotations

import re
from concurrent.futures import wait
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client, handle_file

from qa import Assistant, SentenceTransformerEmbedder
from qa.ui import chat
from tests.conftest import UNREACHABLE_OLLAMA, ServedUI, make_settings
from tests.fake_ollama import FakeOllama

pytestmark = pytest.mark.integration

F16 = "How many F-16s is the Netherlands sending?"
ARTICLE = """Title: Lviv opens a tram line
Date: 2024-02-10

The city of Lviv opened a new tram line on Saturday. The new tram line in Lviv has 14 stops.
Residents left a note on the first tram: <script>alert("tram")</script> which the council called a prank.
"""


def text_of(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def ask(client: Client, question: str) -> tuple[list[Any], str]:
    """One turn of the client's conversation (the server keeps it, per session)."""
    messages, _, sources = client.predict(question, 5, "", "", "auto", "llama3.2:3b", "auto", api_name="/ask")
    return messages, sources


def rows(table: Any) -> list[list[Any]]:
    if isinstance(table, dict) and "data" not in table and isinstance(table.get("value"), dict):
        table = table["value"]  # an update of the table (its label names the article and story counts)
    return list(table["data"]) if isinstance(table, dict) else list(table)


@pytest.fixture
def client(served_ui: ServedUI) -> Client:
    return Client(served_ui.url, verbose=False)


def test_a_seed_question_gets_a_cited_answer_and_a_source_card(client: Client) -> None:
    messages, sources = ask(client, F16)
    answer = text_of(messages[-1])
    assert "eighteen" in answer.lower()
    assert re.search(r'<a class="qa-cite" href="#qa-src-1-1"[^>]*>\[1\]</a>', answer)
    assert 'id="qa-src-1-1"' in sources and "<mark>" in sources and "score " in sources


def test_a_follow_up_is_searched_as_a_standalone_question(client: Client) -> None:
    ask(client, F16)
    messages, sources = ask(client, "and how many did Norway send?")
    assert "Searched for: “How many F-16s did Norway send?”" in text_of(messages[-1])
    assert 'id="qa-src-2-1"' in sources and 'id="qa-src-1-1"' in sources  # both answers keep their cards


def test_a_question_the_articles_do_not_answer_is_a_clear_refusal(client: Client) -> None:
    messages, sources = ask(client, "What is the capital of France?")
    answer = text_of(messages[-1])
    assert "Refused:" in answer and "The articles do not answer this question." in answer
    assert "qa-card" not in sources or "qa-card-related" in sources


def test_upload_ask_and_delete_an_article(client: Client, served_ui: ServedUI, tmp_path: Path) -> None:
    article = tmp_path / "lviv-tram.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    results, note, *_ = client.predict([handle_file(str(article))], "", api_name="/upload")
    assert rows(results) == [["lviv-tram.txt", "added", "1 article(s), 1 chunks"]], note

    again, _, *_ = client.predict([handle_file(str(article))], "", api_name="/upload")
    assert rows(again)[0][:2] == ["lviv-tram.txt", "skipped"] and "unchanged" in rows(again)[0][2]

    messages, sources = ask(client, "How many stops does the new tram line in Lviv have?")
    assert "14" in text_of(messages[-1]) and "Lviv opens a tram line" in sources
    assert "<script>" not in sources and "&lt;script&gt;" in sources

    listed, _ = client.predict("tram", api_name="/articles")
    assert [r[0] for r in rows(listed)] == ["Lviv opens a tram line"]
    doc_id = rows(listed)[0][4]
    note, after, _ = client.predict([doc_id], "", api_name="/delete")
    assert note.startswith("Deleted 1 of 1")
    assert all(r[4] != doc_id for r in rows(after)) and len(rows(after)) == 2
    assert all(r.doc_id != doc_id for r in served_ui.assistant.articles())


def test_uploads_over_the_limits_are_refused_with_the_reason(client: Client, tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4 not an article")
    big = tmp_path / "big.txt"
    big.write_text("Title: Big\n\n" + "Words about Kyiv. " * 90_000, encoding="utf-8")  # about 1.6 MB
    results, note, *_ = client.predict([handle_file(str(pdf)), handle_file(str(big))], "", api_name="/upload")
    by_name = {r[0]: r for r in rows(results)}
    assert by_name["report.pdf"][1] == "failed" and ".pdf is not accepted" in by_name["report.pdf"][2]
    assert by_name["big.txt"][1] == "failed" and "over the 1 MB upload limit" in by_name["big.txt"][2]
    assert "failed 2" in note


def test_two_sessions_ask_at_once(served_ui: ServedUI) -> None:
    clients = [Client(served_ui.url, verbose=False) for _ in range(2)]
    jobs = [
        c.submit(q, 5, "", "", "auto", "llama3.2:3b", "auto", api_name="/ask")
        for c, q in zip(clients, [F16, "How many drones did Russia launch?"])
    ]
    wait(jobs, timeout=300)
    answers = [text_of(job.result()[0][-1]) for job in jobs]
    assert "eighteen" in answers[0].lower() and "176 drones" in answers[1]


def test_the_model_picker_lists_ollamas_models(ollama: FakeOllama, tmp_path: Path) -> None:
    ollama.models = ["llama3.2:3b", "qwen2.5:7b"]
    up = Assistant(make_settings(tmp_path / "i", ollama_host=ollama.url))
    assert up.ollama_models() == ["llama3.2:3b", "qwen2.5:7b"]
    names, note = chat.ollama_models(up, "mistral")
    assert names == ["mistral", "llama3.2:3b", "qwen2.5:7b"] and "has 2 model(s)" in note and "no 'mistral'" in note
    down = Assistant(make_settings(tmp_path / "j", ollama_host=UNREACHABLE_OLLAMA))
    names, note = chat.ollama_models(down, "llama3.2:3b")
    assert names == ["llama3.2:3b"] and "Cannot reach Ollama" in note


def test_the_backend_indicator_explains_the_embedded_fallback(served_ui: ServedUI) -> None:
    html = chat.backend_status(served_ui.assistant, "auto", "auto", None)
    assert "embedded" in html and "Ollama is not reachable" in html and "mode extract" in html


def test_generate_mode_streams_the_models_tokens_then_the_verified_answer(
    seeded_index: Path, embedder: SentenceTransformerEmbedder, ollama: FakeOllama
) -> None:
    assistant = Assistant(make_settings(seeded_index, ollama_host=ollama.url), embedder=embedder)
    options = chat.AskOptions(top_k=5, backend="ollama", mode="generate")
    updates = list(chat.respond(assistant, "How many drones did Russia launch?", [], [], [], options))
    shown = [text_of(messages[-1]) for messages, *_ in updates]
    assert "qa-draft" in shown[0] and any("qa-draft" in s and "Reading" not in s for s in shown[1:-1])
    assert "qa-answer" in shown[-1] and "qa-draft" not in shown[-1] and "ollama · llama3.2:3b" in shown[-1]
    _, textbox, questions, _, panel = updates[-1]
    assert textbox == "" and questions == ["How many drones did Russia launch?"] and 'id="qa-src-1-' in panel


def test_the_evals_tab_runs_the_seed_set(client: Client) -> None:
    metrics, verdicts, chart, note = client.predict(3, api_name="/evaluate")
    labels = [r[0] for r in rows(metrics)]
    assert "accuracy" in labels and "citation precision" in labels and any("hit @" in x or "@5" in x for x in labels)
    assert len(rows(verdicts)) == 3 and all(r[2] for r in rows(verdicts))
    assert Path(chart).stat().st_size > 1000 and note.startswith("3 cases answered by")
