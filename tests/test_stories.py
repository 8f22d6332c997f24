"""One story, told once (issue 16): near-duplicate copies share a story id at ingest, retrieval gives one article
per story and lists the others, a newer version at the same URL replaces the older, copies never conflict."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa import Assistant, SentenceTransformerEmbedder
from qa.chunks import Passage
from qa.cli.commands import cli
from qa.grounding.conflicts import find_conflict
from qa.grounding.evidence import Evidence
from qa.ingest.stories import fingerprint, newer_version, similarity
from qa.reader.runtime import shared_reader
from qa.ui import library
from qa.ui.render import sources_html
from tests.conftest import UNREACHABLE_OLLAMA, make_settings

WIRE = (
    "The port of Rotterdam reopened on Tuesday after a three-day strike by crane operators ended with a new wage "
    "deal, the port authority said. About 140 ships had been waiting at anchor off the Dutch coast, and the "
    "authority expects the backlog to clear by the end of next week. The union said its members accepted a pay "
    "rise of 6.5 percent over two years and a shorter night shift. Shipping lines had diverted some cargo to "
    "Antwerp and Hamburg during the strike, which began on Saturday morning. Economists at ING estimated that the "
    "stoppage cost the Dutch economy about 90 million euros a day. The port handles more than 400 million tonnes "
    "of goods a year and is the largest in Europe. Talks had broken down twice last month before mediators from "
    "the labour ministry joined them. The port authority thanked shippers for their patience and said extra "
    "crews would work through the weekend."
)
# The same wire story in another outlet: another headline, a changed opening and a line cut at the end.
COPY = (
    WIRE.replace("The port of Rotterdam reopened on Tuesday", "Rotterdam's port reopened on Tuesday")
    .replace("a new wage deal", "a new wage agreement")
    .replace(
        " The port authority thanked shippers for their patience and said extra crews would work through the weekend.",
        "",
    )
)
OTHER = (
    "Heavy snow closed schools across Bavaria on Tuesday as temperatures fell to minus 15 degrees in the Alps. "
    "Trains between Munich and Salzburg were cancelled and the airport in Munich reported delays of up to three "
    "hours. Forecasters said more snow would fall on Wednesday before a thaw at the weekend. Ski resorts welcomed "
    "the fresh snow after a mild December that had left many slopes bare, and avalanche warnings were raised to "
    "level four in the Berchtesgaden area. Road gritting crews worked through the night on the A8 motorway."
)


def _jsonl(path: Path, *records: dict[str, str]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _wire_folder(root: Path) -> Path:
    folder = root / "news"
    folder.mkdir()
    _jsonl(
        folder / "reuters.jsonl",
        {
            "url": "https://wire.example/rotterdam",
            "title": "Rotterdam port reopens",
            "date": "2024-01-09",
            "text": WIRE,
        },
    )
    _jsonl(
        folder / "gazette.jsonl",
        {
            "url": "https://gazette.example/port",
            "title": "Strike over at Europe's biggest port",
            "date": "2024-01-10",
            "text": COPY,
        },
    )
    _jsonl(
        folder / "weather.jsonl",
        {
            "url": "https://weather.example/snow",
            "title": "Snow closes Bavarian schools",
            "date": "2024-01-09",
            "text": OTHER,
        },
    )
    return folder


@pytest.mark.unit
def test_the_signature_says_a_lightly_edited_copy_is_near_and_another_article_is_not() -> None:
    assert similarity(WIRE, COPY) >= 0.5
    assert similarity(WIRE, OTHER) < 0.1
    wire, copy = fingerprint(WIRE), fingerprint(COPY)
    assert any(a == b for a, b in zip(wire.bands, copy.bands))  # LSH makes them candidates
    assert fingerprint("").bands == ()


@pytest.mark.unit
def test_a_newer_version_is_a_later_date_or_the_same_title() -> None:
    assert newer_version("Port reopens", "2024-01-10", "Port reopens", "2024-01-09")
    assert not newer_version("Port reopens", "2024-01-08", "Port reopens", "2024-01-09")
    assert newer_version("Port  reopens", "2024-01-09", "port reopens", "2024-01-09")
    assert not newer_version("Live: day 2", "2024-01-09", "Live: day 1", "2024-01-09")  # two pieces at one url


@pytest.mark.integration
def test_wire_copies_are_one_story_and_status_counts_stories(assistant: Assistant, tmp_path: Path) -> None:
    assistant.ingest([_wire_folder(tmp_path)])
    by_title = {r.title: r for r in assistant.articles()}
    wire, copy = by_title["Rotterdam port reopens"], by_title["Strike over at Europe's biggest port"]
    other = by_title["Snow closes Bavarian schools"]
    assert copy.story == wire.story != other.story
    assert other.story == other.doc_id
    assert [r.copy for r in (wire, copy, other)].count(True) == 1
    info = assistant.status(probe_backend=False)
    assert (info.articles, info.stories) == (3, 2)
    assert library.heading(assistant) == "Indexed articles: 3 (2 stories)"


@pytest.mark.integration
def test_a_copy_ingested_later_joins_the_stored_story(assistant: Assistant, tmp_path: Path) -> None:
    folder = _wire_folder(tmp_path)
    later = tmp_path / "later"
    later.mkdir()
    (folder / "gazette.jsonl").rename(later / "gazette.jsonl")
    assistant.ingest([folder])
    assert assistant.status(probe_backend=False).stories == 2
    assistant.ingest([later])  # found among the stored articles by their band keys, not within one batch
    by_title = {r.title: r for r in assistant.articles()}
    assert by_title["Strike over at Europe's biggest port"].story == by_title["Rotterdam port reopens"].doc_id
    assert assistant.status(probe_backend=False).stories == 2
    # The story's first article removed: the copy left is counted in its place.
    assistant.remove([by_title["Rotterdam port reopens"].doc_id])
    assert (len(assistant.articles()), assistant.status(probe_backend=False).stories) == (2, 2)


@pytest.mark.integration
def test_retrieval_gives_one_article_per_story_and_lists_the_other(
    assistant: Assistant, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    assistant.ingest([_wire_folder(tmp_path)])
    question = "How long did the strike at the port of Rotterdam last?"
    passages = assistant.retrieve(question, top_k=5)
    titles = {p.title for p in passages}
    assert len(titles & {"Rotterdam port reopens", "Strike over at Europe's biggest port"}) == 1
    lead = next(p for p in passages if p.also_in)
    assert len(lead.also_in) == 1
    other = lead.also_in[0]
    assert (
        other.title != lead.title and other.source.startswith("https://") and other.date in ("2024-01-09", "2024-01-10")
    )
    # The setting off: both copies come back.
    both = Assistant(make_settings(assistant.settings.index_dir, one_per_story=False), embedder=embedder)
    titles = {p.title for p in both.retrieve(question, top_k=5)}
    assert {"Rotterdam port reopens", "Strike over at Europe's biggest port"} <= titles


@pytest.mark.integration
def test_retrieval_reads_the_stories_from_its_cache_not_the_catalog(
    assistant: Assistant, embedder: SentenceTransformerEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assistant.ingest([_wire_folder(tmp_path)])
    question = "How long did the strike at the port of Rotterdam last?"
    assistant.retrieve(question)  # saves the retrieval cache
    fresh = Assistant(make_settings(assistant.settings.index_dir), embedder=embedder)  # loads it from disk

    def no_catalog_read(*args: object) -> None:
        raise AssertionError("retrieval read the catalog for stories")

    with monkeypatch.context() as patched:
        patched.setattr(fresh.store, "records", no_catalog_read)
        patched.setattr(fresh.store, "stories", no_catalog_read)
        lead = next(p for p in fresh.retrieve(question, top_k=5) if p.also_in)
    # The copy removed: its story has no other article left, whatever the cache held.
    assistant.remove([lead.also_in[0].doc_id])
    passages = Assistant(make_settings(assistant.settings.index_dir), embedder=embedder).retrieve(question, top_k=5)
    assert lead.doc_id in {p.doc_id for p in passages} and not any(p.also_in for p in passages)


@pytest.mark.integration
def test_the_source_card_and_the_json_say_where_else_the_story_appeared(assistant: Assistant, tmp_path: Path) -> None:
    assistant.ingest([_wire_folder(tmp_path)])
    answer = assistant.ask("How many ships had been waiting at anchor off the Dutch coast?", mode="extract")
    assert not answer.refused and answer.citations
    cited = answer.citations[0]
    assert len(cited.also_in) == 1
    data = answer.to_json()
    assert data["citations"][0]["also_in"][0]["source"].startswith("https://")
    html = sources_html(answer, 1)
    assert "also in 1 other article" in html and cited.also_in[0].source in html


@pytest.mark.integration
def test_a_newer_version_at_the_same_url_replaces_the_older(assistant: Assistant, tmp_path: Path) -> None:
    first, second = tmp_path / "monday", tmp_path / "tuesday"
    first.mkdir()
    second.mkdir()
    url = "https://wire.example/rotterdam"
    _jsonl(first / "feed.jsonl", {"url": url, "title": "Rotterdam port reopens", "date": "2024-01-09", "text": WIRE})
    assistant.ingest([first])
    updated = WIRE + " Update: the first ships left the port on Tuesday evening."
    _jsonl(
        second / "feed.jsonl", {"url": url, "title": "Rotterdam port reopens", "date": "2024-01-10", "text": updated}
    )
    report = assistant.ingest([second])
    assert report.replaced == 1
    records = assistant.articles()
    assert [(r.date, r.source) for r in records] == [("2024-01-10", url)]
    assert assistant.status(probe_backend=False).stories == 1
    # An older version arriving later replaces nothing, and another piece at one url on the same day is kept too.
    third = tmp_path / "later"
    third.mkdir()
    _jsonl(third / "feed.jsonl", {"url": url, "title": "Live: port strike", "date": "2024-01-10", "text": OTHER})
    assert assistant.ingest([third]).replaced == 0
    assert len(assistant.articles()) == 2


@pytest.mark.integration
def test_copies_of_one_story_are_never_a_conflict() -> None:
    def passage(n: int, doc: str, text: str, story: str) -> Passage:
        return Passage(n, f"{doc}:0", doc, f"Title {doc}", "2024-01-04", f"{doc}.txt", text, 0, len(text), 0.6, story)

    one = passage(1, "a", "The death toll in Kyiv has risen to 32 people.", "a")
    two = passage(2, "b", "In Kyiv, 30 people were killed by the strike.", "a")
    ranked = [Evidence(p, 0, len(p.text), score=0.9 - p.n / 100) for p in (one, two)]
    reader = shared_reader()
    assert find_conflict("How many people died in Kyiv?", ranked, 0.6, reader) is None
    apart = [replace(e, passage=replace(e.passage, story="")) for e in ranked]  # two stories: the conflict stays
    assert find_conflict("How many people died in Kyiv?", apart, 0.6, reader) is not None


@pytest.mark.integration
def test_qa_status_shows_the_stories_beside_the_articles(assistant: Assistant, tmp_path: Path) -> None:
    assistant.ingest([_wire_folder(tmp_path)])
    env = {"OLLAMA_HOST": UNREACHABLE_OLLAMA}
    shown = CliRunner().invoke(cli, ["--index", str(assistant.settings.index_dir), "status"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "articles         3 (2 stories)" in shown.output
