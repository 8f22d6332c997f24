from collections.abc import Sequence

import pytest

from qa import SentenceTransformerEmbedder
from qa.ingest.chunking import chunk_text, split_sentences
from qa.ingest.documents import Article, parse
from qa.ingest.reading import read_bytes
from tests.conftest import SEEDS


def words(texts: Sequence[str]) -> list[int]:
    """A stand-in token counter: one token per word."""
    return [len(t.split()) for t in texts]


@pytest.mark.unit
def test_sentences_split_at_terminal_punctuation_but_not_abbreviations_or_initials() -> None:
    text = "Gen. Smith met J. Doe on Dec. 28 in the U.S. capital. Talks failed! Was it late? Yes."
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == [
        "Gen. Smith met J. Doe on Dec. 28 in the U.S. capital.",
        "Talks failed!",
        "Was it late?",
        "Yes.",
    ]


@pytest.mark.unit
def test_line_breaks_end_sentences_and_ellipsis_before_lower_case_does_not() -> None:
    text = "Headline without a stop\n\nThe ministry says in its… intelligence update that it is so."
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "Headline without a stop",
        "The ministry says in its… intelligence update that it is so.",
    ]


@pytest.mark.unit
def test_chunks_are_exact_spans_of_whole_sentences_within_budget() -> None:
    text = " ".join(f"Sentence number {i} has exactly seven words." for i in range(20))
    chunks = chunk_text(text, budget=30, count=words, overlap=1)
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert len(chunk.text.split()) <= 30
        assert chunk.text.startswith("Sentence") and chunk.text.endswith(".")
    covered = {i for c in chunks for i in range(c.start, c.end)}
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


@pytest.mark.unit
def test_overlap_repeats_the_last_sentence_at_the_start_of_the_next_chunk() -> None:
    text = " ".join(f"Fact {i} is here." for i in range(12))
    first, second, *_ = chunk_text(text, budget=16, count=words, overlap=1)
    assert second.text.split(". ")[0] + "." == first.text.split(". ")[-1]


@pytest.mark.unit
def test_a_sentence_longer_than_the_budget_is_cut_at_word_boundaries() -> None:
    text = "word " * 100 + "end."
    chunks = chunk_text(text.strip(), budget=25, count=words, overlap=0)
    assert all(len(c.text.split()) <= 25 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == text.split()


@pytest.mark.integration
def test_no_seed_chunk_is_truncated_by_the_embedding_window(embedder: SentenceTransformerEmbedder) -> None:
    from qa.index.store import Store
    from qa.ingest.run import Ingestor
    from qa.settings import Settings

    settings = Settings()
    ingestor = Ingestor(settings, Store(settings, embedder.name), embedder)
    tokenizer = embedder.model.tokenizer
    checked = 0
    for path in sorted(SEEDS.glob("*.txt")):
        for article in parse(path, read_bytes(path, 10**8)):
            assert isinstance(article, Article)
            chunks, texts = ingestor.chunk_article(article)
            for chunk, text in zip(chunks, texts, strict=True):
                full = tokenizer(text)["input_ids"]  # with [CLS] and [SEP]
                assert len(full) <= embedder.max_tokens == 256
                assert article.text[chunk.start : chunk.end] == chunk.text
                checked += 1
    assert checked >= 4
