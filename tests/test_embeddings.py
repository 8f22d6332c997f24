"""The ONNX and torch backends of the embedding model give the same vectors and the same word-piece counts."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa import Assistant, SentenceTransformerEmbedder
from qa.index.embeddings import bundled_model_path, onnx_cache_dir
from tests.conftest import SEEDS, make_settings

pytestmark = pytest.mark.integration

TEXTS = [
    "Ukraine expects more prisoner exchanges, more deaths after rocket attack",
    "How many F-16s is the Netherlands sending?",
    "Émile Zola’s “J’accuse” — 中文 🙂 and a URL https://example.com/a?b=1",
    "word " * 400,  # longer than the window: both truncate it the same way
    "x",
]


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(backend="torch")


def test_onnx_and_torch_embed_alike_and_count_word_pieces_alike(
    embedder: SentenceTransformerEmbedder, torch_embedder: SentenceTransformerEmbedder
) -> None:
    onnx = SentenceTransformerEmbedder(backend="onnx")
    vectors = onnx.embed(TEXTS)
    assert onnx.backend_used == "onnx"
    expected = torch_embedder.embed(TEXTS)
    assert torch_embedder.backend_used == "torch"
    assert vectors.dtype == np.float32 and vectors.shape == expected.shape == (len(TEXTS), onnx.dimension)
    assert float(np.min(np.sum(vectors * expected, axis=1))) >= 0.999
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert onnx.count_tokens(TEXTS) == torch_embedder.count_tokens(TEXTS)
    assert onnx.max_tokens == torch_embedder.max_tokens == 256
    assert any(p.name == "model.onnx" for p in onnx_cache_dir().rglob("*"))  # cached, outside the repository


def test_an_index_built_with_torch_is_searched_with_onnx(
    tmp_path: Path, torch_embedder: SentenceTransformerEmbedder
) -> None:
    settings = make_settings(tmp_path / "index", embedding_backend="torch")
    Assistant(settings, embedder=torch_embedder).ingest([SEEDS])
    question = "How many F-16s is the Netherlands sending to Ukraine?"
    with_torch = Assistant(settings, embedder=torch_embedder).retrieve(question)
    with_onnx = Assistant(make_settings(tmp_path / "index")).retrieve(question)  # the default backend: onnx
    assert [p.chunk_id for p in with_onnx] == [p.chunk_id for p in with_torch]
    assert [p.score for p in with_onnx] == pytest.approx([p.score for p in with_torch], abs=1e-3)


def test_a_model_the_onnx_backend_cannot_run_falls_back_to_torch_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "cls-pooled"
    shutil.copytree(bundled_model_path(), folder, ignore=shutil.ignore_patterns("model.safetensors", "1_Pooling"))
    (folder / "model.safetensors").symlink_to(bundled_model_path() / "model.safetensors")
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(
        '{"word_embedding_dimension": 384, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}'
    )
    embedder = SentenceTransformerEmbedder(str(folder), backend="onnx")
    with caplog.at_level(logging.WARNING, logger="qa.index.embeddings"):
        vectors = embedder.embed(["a sentence"])
    assert embedder.backend_used == "torch" and vectors.shape == (1, 384)
    assert "torch instead of ONNX" in caplog.text and "mean pooling" in caplog.text


def test_a_failed_export_falls_back_to_torch_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no export cached there

    def broken(model_path: Path, target: Path) -> None:
        raise RuntimeError("no exporter here")

    monkeypatch.setattr("qa.index.embeddings._export", broken)
    folder = tmp_path / "copy"
    folder.mkdir()
    for item in bundled_model_path().iterdir():
        (folder / item.name).symlink_to(item)
    embedder = SentenceTransformerEmbedder(str(folder))
    with caplog.at_level(logging.WARNING, logger="qa.index.embeddings"):
        assert embedder.embed(["a sentence"]).shape == (1, 384)
    assert embedder.backend_used == "torch"
    assert "the export failed (RuntimeError: no exporter here)" in caplog.text
    assert not (tmp_path / "cache" / "newsqa" / "onnx").exists() or not any(
        (tmp_path / "cache" / "newsqa" / "onnx").rglob("*.onnx")
    )
