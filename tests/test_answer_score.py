"""The answer score: the reader's readings mixed with the rules' score orders sentences and decides refusal."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from qa import Assistant, SentenceTransformerEmbedder
from qa.chunks import Passage
from qa.grounding.evidence import Evidence, rank
from qa.reader.decode import PassageReading, Span
from qa.reader.scoring import (
    FEATURES,
    MIX_FILE,
    NO_SPAN,
    AnswerMix,
    features_of,
    in_shape_group,
    rescore,
    shipped_mix,
)
from tests.conftest import make_settings

TEXT = "Rain fell in Taipei on Monday. The Netherlands will send 18 jets."
RAIN, JETS = (0, 30), (31, len(TEXT))


def _passage(n: int, chunk_id: str, text: str = TEXT) -> Passage:
    return Passage(
        n=n,
        chunk_id=chunk_id,
        doc_id=f"doc-{chunk_id}",
        title="T",
        date="2024-01-04",
        source="s",
        text=text,
        start=0,
        end=len(text),
        score=0.5,
    )


def _reading(
    sentences: list[tuple[int, int, float]], span: tuple[int, int, float] | None, passage: float
) -> PassageReading:
    offsets = np.array([[span[0], span[1]]] if span else np.zeros((0, 2)), dtype=np.int64).reshape(-1, 2)
    half = np.array([span[2] / 2] if span else [], dtype=np.float32)
    return PassageReading(
        passage=passage,
        sentences=sentences,
        span=Span(*span) if span else None,
        offsets=offsets,
        starts=half,
        ends=half,
    )


class _Reader:
    """Readings by passage text, as the ONNX reader would give them; counts its calls."""

    name = "fake"

    def __init__(self, readings: dict[str, PassageReading]) -> None:
        self.readings = readings
        self.calls: list[list[str]] = []

    def read(self, question: str, texts: Sequence[str]) -> list[PassageReading]:
        self.calls.append(list(texts))
        return [self.readings[t] for t in texts]


# Only the reader's sentence probability counts: the rest weigh nothing.
_READER_ONLY = AnswerMix(
    mean=np.zeros(5),
    std=np.ones(5),
    weights=np.array([0.0, 0.0, 1.0, 0.0, 0.0]),
    bias=0.0,
    threshold=0.0,
)


@pytest.mark.unit
def test_the_reader_reorders_what_the_rules_ranked_and_reads_each_passage_once() -> None:
    passage = _passage(1, "a")
    rain = Evidence(passage, *RAIN, score=0.9)
    jets = Evidence(passage, *JETS, score=0.4)
    reader = _Reader({TEXT: _reading([(*RAIN, 0.1), (*JETS, 0.9)], (56, 58, 6.0), 0.8)})
    ranked = rescore("How many jets?", [rain, jets], reader, _READER_ONLY)
    assert [(e.start, e.end) for e in ranked] == [JETS, RAIN]
    assert ranked[0].score == pytest.approx(np.log(0.9 / 0.1), abs=1e-3)
    assert reader.calls == [[TEXT]]


@pytest.mark.unit
def test_a_metadata_statement_is_read_as_its_own_text() -> None:
    passage = _passage(1, "a")
    stated = "The article “T” was published on January 4, 2024."
    evidence = [Evidence(passage, 0, 0, score=0.7, stated=stated), Evidence(passage, *JETS, score=0.4)]
    reader = _Reader(
        {
            TEXT: _reading([(*RAIN, 0.1), (*JETS, 0.2)], None, 0.3),
            stated: _reading([(0, len(stated), 0.95)], (34, len(stated) - 1, 5.0), 0.9),
        }
    )
    ranked = rescore("When was the article published?", evidence, reader, _READER_ONLY)
    assert ranked[0].stated == stated
    assert reader.calls == [[stated, TEXT]]


@pytest.mark.unit
def test_features_are_the_rules_score_the_shape_group_and_the_readers_three_scores() -> None:
    passage = _passage(1, "a")
    jets = Evidence(passage, *JETS, score=0.4)
    with_span = features_of(jets, _reading([(*JETS, 0.5)], (56, 58, 6.0), 0.5), True)
    assert with_span == pytest.approx([0.4, 1.0, 0.0, 6.0, 0.0])
    without = features_of(jets, _reading([(*JETS, 0.5)], None, 0.5), False)
    assert without[1] == 0.0 and without[3] == NO_SPAN


@pytest.mark.unit
def test_the_shape_group_ends_where_the_rules_score_rises() -> None:
    passage = _passage(1, "a")
    scores = [0.8, 0.5, 0.9, 0.2]  # rank() sorts sentences of the answer's shape first, each group by score
    ranked = [Evidence(passage, i, i + 1, score=s) for i, s in enumerate(scores)]
    assert [in_shape_group(ranked, i) for i in range(4)] == [True, True, False, False]


@pytest.mark.unit
def test_the_shipped_mix_names_its_features_data_and_threshold() -> None:
    data = json.loads(MIX_FILE.read_text(encoding="utf-8"))
    assert tuple(data["features"]) == FEATURES
    assert data["fitted_on"]["weeks"] == "calibration"
    mix = AnswerMix.load()
    assert len(mix.weights) == len(FEATURES) and np.isfinite(mix.threshold)


@pytest.mark.unit
def test_a_mix_of_other_features_is_refused_with_the_file_named(tmp_path: Path) -> None:
    data = json.loads(MIX_FILE.read_text(encoding="utf-8"))
    data["features"] = ["cosine"]
    bad = tmp_path / "mix.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=r"mix\.json: features"):
        AnswerMix.load(bad)


@pytest.mark.integration
def test_with_reader_ranking_the_answer_rests_on_the_best_scored_sentence_and_refuses_below_the_fitted_threshold(
    seeded_index: Path, embedder: SentenceTransformerEmbedder
) -> None:
    assistant = Assistant(make_settings(seeded_index, backend="embedded", ranking="reader"), embedder=embedder)
    question = "How many F-16s is the Netherlands sending?"
    answer = assistant.ask(question, mode="extract")
    assert not answer.refused and answer.short_answer is not None
    ranked = rescore(question, rank(question, answer.passages, embedder), assistant.reader, shipped_mix())
    assert ranked[0].score >= shipped_mix().threshold
    assert answer.sentences[0].span is not None
    assert answer.sentences[0].span.start == ranked[0].article_start
    assert "18" in ranked[0].text or "eighteen" in ranked[0].text.lower()
    stricter = Assistant(
        make_settings(seeded_index, backend="embedded", ranking="reader", min_answer_score=ranked[0].score + 0.01),
        embedder=embedder,
    )
    assert stricter.ask(question, mode="extract").refused
