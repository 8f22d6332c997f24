"""The trained reader: its windows, its decoding, its ONNX export, its training script, and its answers."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from qa.index.embeddings import bundled_model_path
from qa.ingest.chunking import split_sentences
from qa.reader.decode import read
from qa.reader.features import MAX_TOKENS, load_tokenizer, windows
from qa.reader.runtime import OnnxReader
from qa.reader.weights import WEIGHTS_DIR, delta_files

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.unit
def test_windows_lead_with_the_question_and_cover_a_long_passage_with_overlap() -> None:
    tokenizer = load_tokenizer(str(bundled_model_path()))
    passage = " ".join(f"Sentence {i} says that {i} ships were counted." for i in range(80))
    found = windows(tokenizer, "How many ships?", passage)
    assert len(found) > 1 and all(len(w.ids) <= MAX_TOKENS for w in found)
    question = tokenizer.encode("How many ships?", add_special_tokens=False).ids
    assert all(w.ids[1 : 1 + len(question)] == question for w in found)
    covered = [w.offsets[i] for w in found for i in w.context]
    assert covered[0][0] == 0 and max(b for _, b in covered) == len(passage)
    # Consecutive windows share word pieces, so an answer on a window's edge is whole in the next one.
    first, second = ({w.offsets[i] for i in w.context} for w in found[:2])
    assert first & second


@pytest.mark.unit
def test_decoding_takes_the_span_and_sentences_the_logits_point_at() -> None:
    tokenizer = load_tokenizer(str(bundled_model_path()))
    passage = "Rain fell in Taipei. The Netherlands will send 18 jets."
    [window] = windows(tokenizer, "How many jets?", passage)
    logits = np.full((len(window.ids), 4), -5.0, dtype=np.float32)
    logits[0, :2] = 0.0  # no answer scores 0 + 0
    at = next(i for i in window.context if passage[slice(*window.offsets[i])] == "18")
    logits[at, 0] = logits[at, 1] = 4.0
    for i in window.context:
        if window.offsets[i][0] >= passage.index("The"):
            logits[i, 2] = 3.0
    logits[0, 3] = 2.0
    reading = read([window], [logits], split_sentences(passage))
    assert reading.span is not None and passage[reading.span.start : reading.span.end] == "18"
    assert reading.span.margin == pytest.approx(8.0)
    assert [round(s, 2) for _, _, s in reading.sentences] == [0.01, 0.95]
    assert reading.passage == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert reading.span_margin(passage.index("18"), passage.index("18") + 2) == pytest.approx(8.0)


@pytest.mark.unit
def test_the_shipped_delta_is_small_and_complete() -> None:
    files = delta_files()
    assert all(f.is_file() for f in files)
    assert sum(f.stat().st_size for f in files) <= 5_000_000
    assert (WEIGHTS_DIR / "MODEL_CARD.md").is_file()


@pytest.mark.integration
def test_the_onnx_export_reads_like_the_torch_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # a fresh export, checked against torch as it is made
    from qa.reader.weights import load_torch_reader

    question, passage = "Who brokered the exchange?", "The exchange was brokered by the United Arab Emirates."
    onnx = OnnxReader().read(question, [passage])[0]
    assert list(tmp_path.rglob("model.onnx"))
    import torch

    [window] = windows(load_tokenizer(str(bundled_model_path())), question, passage)
    with torch.no_grad():
        inputs = {
            "input_ids": torch.tensor([window.ids]),
            "attention_mask": torch.ones(1, len(window.ids), dtype=torch.long),
            "token_type_ids": torch.tensor([window.type_ids]),
        }
        logits = load_torch_reader()(**inputs)[0].numpy()
    expected = read([window], [logits], split_sentences(passage))
    assert onnx.span == expected.span or (
        onnx.span and expected.span and abs(onnx.span.margin - expected.span.margin) < 1e-3
    )
    assert np.allclose([s for *_, s in onnx.sentences], [s for *_, s in expected.sentences], atol=1e-4)


def _tiny_squad(path: Path) -> None:
    """A few dozen SQuAD 2.0 questions over two made-up articles: enough to run the training script."""
    data = []
    for title, place in (("Harbour", "Rotterdam"), ("Station", "Utrecht")):
        paragraphs = []
        for k in range(6):
            context = f"The {title.lower()} of {place} counted {k + 10} ships on day {k}. It was cold. Nobody left."
            qas = [
                {
                    "id": f"{title}{k}a",
                    "question": f"How many ships were counted on day {k}?",
                    "answers": [{"text": str(k + 10), "answer_start": context.index(str(k + 10))}],
                    "is_impossible": False,
                },
                {"id": f"{title}{k}b", "question": "Who painted the ships?", "answers": [], "is_impossible": True},
            ]
            paragraphs.append({"context": context, "qas": qas})
        data.append({"title": title, "paragraphs": paragraphs})
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump({"version": "v2.0", "data": data}, handle)


@pytest.mark.integration
def test_the_training_script_trains_saves_and_the_reader_loads_what_it_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, out = tmp_path / "squad.json.gz", tmp_path / "weights"
    _tiny_squad(data)
    done = subprocess.run(
        [sys.executable, "-m", "qa.reader.train", "--data", str(data), "--out", str(out), "--epochs", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads((out / "reader.json").read_text(encoding="utf-8"))["held_out"]
    assert figures["held_out_questions"] > 0 and 0.0 <= figures["answerable_auc"] <= 1.0
    assert sum(f.stat().st_size for f in delta_files(out)) <= 5_000_000
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    [reading] = OnnxReader(out).read("How many ships?", ["The harbour counted 12 ships."])
    assert len(reading.sentences) == 1


@pytest.mark.integration
def test_a_killed_training_run_resumes_from_its_checkpoint_to_the_same_weights(tmp_path: Path) -> None:
    data = tmp_path / "squad.json.gz"
    _tiny_squad(data)

    def command(out: Path, *extra: str) -> list[str]:
        train = [sys.executable, "-m", "qa.reader.train", "--data", str(data), "--out", str(out), "--epochs", "3"]
        return [*train, *extra]

    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    assert subprocess.run(command(whole), cwd=ROOT, capture_output=True, timeout=600).returncode == 0
    # A checkpoint after every batch; the run is killed as soon as the first one exists, two batches before its end.
    run = subprocess.Popen(
        command(resumed, "--checkpoint-minutes", "0"), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    checkpoint = resumed / "checkpoint.pt"
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    run.kill()
    run.wait()
    assert checkpoint.exists() and not (resumed / "reader.json").exists()
    done = subprocess.run(command(resumed, "--resume"), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resuming from" in done.stdout and "1 of 3 batches" in done.stdout
    assert not checkpoint.exists()
    for name in ("head.safetensors", "adapter_model.safetensors"):
        a, b = load_file(str(whole / name)), load_file(str(resumed / name))
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
