"""Train the reader: LoRA adapters on the bundled all-MiniLM-L6-v2 and a four-output head, from SQuAD 2.0.

    python -m qa.reader.train [--data ../shared/training/squad2-half-dev/squad2-half-dev.json.gz] [--out DIR]

Seeds are fixed, so a run on the same data and versions rebuilds the shipped weights; two whole articles are
held out and the figures on them are printed at the end and written to `reader.json` beside the weights.
`--limit N` trains on the first N questions only (the smoke test CI runs). Every `--checkpoint-minutes` (10) the
trained parameters, the optimiser, the schedule, the random state and the place in the data are written to
`checkpoint.pt` in the output folder; after an interruption `--resume` continues from there exactly, and a run
that finishes deletes it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.evals.matching import auc
from qa.index.embeddings import bundled_model_path
from qa.ingest.chunking import split_sentences
from qa.reader.decode import read
from qa.reader.features import MAX_TOKENS, STRIDE, Window, batch_arrays, load_tokenizer, windows
from qa.reader.weights import WEIGHTS_DIR, save_reader

DEFAULT_DATA = Path("../shared/training/squad2-half-dev/squad2-half-dev.json.gz")
SEED = 13
HELD_OUT_ARTICLES = 2
CHECKPOINT = "checkpoint.pt"
CHECKPOINT_MINUTES = 10.0
# A retrieved passage is often about the story without the answer: pair some answerable questions with another
# paragraph of their article, as unanswerable examples that SQuAD's in-paragraph near misses do not cover.
OTHER_PARAGRAPH_SHARE = 0.3
HYPER: dict[str, Any] = {
    "lora_r": 16,
    "lora_alpha": 32,
    "lora_dropout": 0.1,
    "target_modules": ["query", "key", "value", "dense"],
    "learning_rate": 5e-4,
    "head_learning_rate": 2e-3,
    "weight_decay": 0.01,
    "epochs": 2,  # about 70 minutes on 2 cores (4.5 s a batch of 16)
    "batch_size": 16,
    "warmup_share": 0.06,
    "max_tokens": MAX_TOKENS,
    "stride": STRIDE,
}


@dataclass
class Example:
    """One training window with its targets."""

    window: Window
    start: int  # word-piece index of the answer's start in the window, 0 ([CLS]) for none
    end: int
    marks: list[int]  # per word piece: 1 when it is in a sentence holding an answer
    answerable: int


@dataclass
class Question:
    article: str
    question: str
    context: str
    answers: list[tuple[int, int, str]]  # (start, end, text); empty when unanswerable


def load_questions(path: Path) -> list[Question]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        data = json.load(handle)["data"]
    found = []
    for article in data:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                answers = (
                    []
                    if qa.get("is_impossible")
                    else [(a["answer_start"], a["answer_start"] + len(a["text"]), a["text"]) for a in qa["answers"]]
                )
                found.append(Question(article["title"], qa["question"], context, answers))
    return found


def split_articles(questions: list[Question]) -> tuple[list[Question], list[Question], list[str]]:
    titles = sorted({q.article for q in questions})
    held = sorted(random.Random(SEED).sample(titles, min(HELD_OUT_ARTICLES, len(titles) - 1)))
    return [q for q in questions if q.article not in held], [q for q in questions if q.article in held], held


def with_other_paragraphs(questions: list[Question], rng: random.Random) -> list[Question]:
    """The questions, plus some answerable ones asked of another paragraph of their article that lacks the answer."""
    paragraphs: dict[str, list[str]] = {}
    for q in questions:
        if q.context not in paragraphs.setdefault(q.article, []):
            paragraphs[q.article].append(q.context)
    extra = []
    for q in questions:
        if q.answers and rng.random() < OTHER_PARAGRAPH_SHARE:
            others = [p for p in paragraphs[q.article] if p != q.context and q.answers[0][2].lower() not in p.lower()]
            if others:
                extra.append(Question(q.article, q.question, rng.choice(others), []))
    return questions + extra


def examples_of(question: Question, tokenizer: Any) -> list[Example]:
    sentences = split_sentences(question.context)
    answering = [(a, b) for a, b in sentences if any(s < b and e > a for s, e, _ in question.answers)]
    found = []
    for window in windows(tokenizer, question.question, question.context):
        marks = [0] * len(window.ids)
        start = end = 0
        for i in window.context:
            a, b = window.offsets[i]
            if any(a >= s and b <= e for s, e in answering):
                marks[i] = 1
        if question.answers:
            s, e, _ = question.answers[0]
            inside = [i for i in window.context if window.offsets[i][1] > s and window.offsets[i][0] < e]
            if inside and window.offsets[inside[0]][0] <= s and window.offsets[inside[-1]][1] >= e:
                start, end = inside[0], inside[-1]
        found.append(Example(window, start, end, marks, int(start > 0)))
    return found


def build_model(hyper: dict[str, Any]) -> Any:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel

    from qa.reader.network import ReaderNet

    base = AutoModel.from_pretrained(str(bundled_model_path()), local_files_only=True)
    config = LoraConfig(
        r=hyper["lora_r"],
        lora_alpha=hyper["lora_alpha"],
        lora_dropout=hyper["lora_dropout"],
        target_modules=hyper["target_modules"],
        bias="none",
    )
    return ReaderNet(get_peft_model(base, config), base.config.hidden_size)


def _tensors(batch: list[Example]) -> tuple[dict[str, Any], dict[str, Any]]:
    import torch

    arrays = batch_arrays([e.window for e in batch])
    inputs = {k: torch.from_numpy(v) for k, v in arrays.items()}
    width = arrays["input_ids"].shape[1]
    marks = np.zeros((len(batch), width), dtype=np.float32)
    context = np.zeros((len(batch), width), dtype=np.float32)
    for row, e in enumerate(batch):
        marks[row, : len(e.marks)] = e.marks
        context[row, list(e.window.context)] = 1.0
    targets = {
        "start": torch.tensor([e.start for e in batch]),
        "end": torch.tensor([e.end for e in batch]),
        "marks": torch.from_numpy(marks),
        "context": torch.from_numpy(context),
        "answerable": torch.tensor([float(e.answerable) for e in batch]),
    }
    return inputs, targets


def _batches(examples: list[Example], size: int, rng: random.Random) -> list[list[Example]]:
    """Shuffled batches of windows of similar length (each batch is padded to its longest only)."""
    order = list(range(len(examples)))
    rng.shuffle(order)
    pool = size * 32
    batches = []
    for at in range(0, len(order), pool):
        chunk = sorted(order[at : at + pool], key=lambda i: len(examples[i].window.ids))
        batches += [[examples[i] for i in chunk[k : k + size]] for k in range(0, len(chunk), size)]
    rng.shuffle(batches)
    return batches


def loss_of(logits: Any, targets: dict[str, Any], mask: Any) -> Any:
    import torch
    from torch.nn import functional

    from qa.reader.network import END, PASSAGE, SENTENCE, START

    padded = mask == 0
    start = logits[..., START].masked_fill(padded, -1e4)
    end = logits[..., END].masked_fill(padded, -1e4)
    span = (functional.cross_entropy(start, targets["start"]) + functional.cross_entropy(end, targets["end"])) / 2
    marks = functional.binary_cross_entropy_with_logits(logits[..., SENTENCE], targets["marks"], reduction="none")
    marks = (marks * targets["context"]).sum() / targets["context"].sum().clamp(min=1.0)
    passage = functional.binary_cross_entropy_with_logits(logits[:, 0, PASSAGE], targets["answerable"])
    return span + marks + passage + torch.zeros(())


def _save_checkpoint(path: Path, model: Any, optimiser: Any, schedule: Any, state: dict[str, Any]) -> None:
    """What --resume needs to continue exactly: trained parameters, optimiser, schedule, RNG, place in the data."""
    import torch

    trained = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    partial = path.with_suffix(".partial")
    torch.save(
        {
            "parameters": trained,
            "optimiser": optimiser.state_dict(),
            "schedule": schedule.state_dict(),
            "torch_rng": torch.get_rng_state(),
            **state,
        },
        partial,
    )
    partial.replace(path)  # a run killed while writing keeps the previous checkpoint


def _load_checkpoint(path: Path, model: Any, optimiser: Any, schedule: Any, run: dict[str, Any]) -> dict[str, Any]:
    import torch

    saved = torch.load(path, weights_only=False)
    if saved["run"] != run:
        raise SystemExit(f"error: {path} was written by another run ({saved['run']}); delete it or drop --resume")
    missing = set(saved["parameters"]) ^ {n for n, p in model.named_parameters() if p.requires_grad}
    if missing:
        raise SystemExit(f"error: {path} does not fit this model ({sorted(missing)[:3]}…); delete it")
    model.load_state_dict(saved["parameters"], strict=False)
    optimiser.load_state_dict(saved["optimiser"])
    schedule.load_state_dict(saved["schedule"])
    torch.set_rng_state(saved["torch_rng"])
    return dict(saved)


def train(
    data: Path,
    out: Path,
    limit: int | None,
    epochs: int | None,
    *,
    resume: bool = False,
    checkpoint_minutes: float = CHECKPOINT_MINUTES,
) -> dict[str, Any]:
    import torch
    from tqdm import tqdm
    from transformers import get_linear_schedule_with_warmup

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    hyper = dict(HYPER, epochs=epochs or HYPER["epochs"])
    tokenizer = load_tokenizer(str(bundled_model_path()))
    questions = load_questions(data)
    if limit:  # a few questions of every article, so that both splits have some
        questions = [q for k, q in enumerate(questions) if k % max(1, len(questions) // limit) == 0][:limit]
    trained, held, held_titles = split_articles(questions)
    rng = random.Random(SEED)
    examples = [e for q in with_other_paragraphs(trained, rng) for e in examples_of(q, tokenizer)]
    print(
        f"{len(trained)} training questions ({len(examples)} windows with other-paragraph negatives), "
        f"{len(held)} held out ({', '.join(held_titles)})",
        flush=True,
    )
    model = build_model(hyper)
    groups = [
        {
            "params": [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("head")],
            "lr": hyper["learning_rate"],
        },
        {"params": list(model.head.parameters()), "lr": hyper["head_learning_rate"]},
    ]
    optimiser = torch.optim.AdamW(groups, weight_decay=hyper["weight_decay"])
    steps = hyper["epochs"] * ((len(examples) + hyper["batch_size"] - 1) // hyper["batch_size"])
    warmup = int(steps * hyper["warmup_share"])
    schedule = get_linear_schedule_with_warmup(optimiser, warmup, steps)  # type: ignore[no-untyped-call]
    checkpoint = out / CHECKPOINT
    run = {"data": str(data.resolve()), "limit": limit, "hyper": hyper}
    done, spent = 0, 0.0  # batches already trained and minutes spent on them, by earlier runs when resuming
    if resume and checkpoint.is_file():
        saved = _load_checkpoint(checkpoint, model, optimiser, schedule, run)
        done, spent = int(saved["done"]), float(saved["minutes"])
        print(f"resuming from {checkpoint}: {done} of {steps} batches trained in {spent:.1f} minutes", flush=True)
    elif resume:
        print(f"no checkpoint at {checkpoint}: starting from the beginning", flush=True)
    began = time.monotonic()
    last_saved = began
    out.mkdir(parents=True, exist_ok=True)
    model.train()
    step = 0
    with tqdm(
        total=steps, initial=done, desc="training the reader", unit="batch", file=sys.stdout, mininterval=10
    ) as bar:
        for epoch in range(hyper["epochs"]):
            for batch in _batches(examples, hyper["batch_size"], random.Random(SEED + epoch)):
                step += 1
                if step <= done:
                    continue  # trained before the checkpoint: the batch order is fixed by the seed
                inputs, targets = _tensors(batch)
                loss = loss_of(model(**inputs), targets, inputs["attention_mask"])
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimiser.step()
                schedule.step()
                optimiser.zero_grad()
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
                if time.monotonic() - last_saved >= checkpoint_minutes * 60 and step < steps:
                    minutes = spent + (time.monotonic() - began) / 60
                    _save_checkpoint(
                        checkpoint, model, optimiser, schedule, {"run": run, "done": step, "minutes": minutes}
                    )
                    last_saved = time.monotonic()
    minutes = spent + (time.monotonic() - began) / 60
    model.eval()
    figures = evaluate(model, held, tokenizer)
    figures.update(
        training_questions=len(trained),
        training_windows=len(examples),
        held_out_questions=len(held),
        held_out_articles=held_titles,
        training_minutes=round(minutes, 1),
    )
    save_reader(model, out, hyper, figures)
    checkpoint.unlink(missing_ok=True)
    return figures


def evaluate(model: Any, held: list[Question], tokenizer: Any) -> dict[str, Any]:
    """Held-out figures: is the question answerable (AUC), the right sentence first, the short answer (EM/F1)."""
    import torch

    from qa.evals.matching import exact_match, token_f1

    scores, labels, sentence_right, ems, f1s = [], [], [], [], []
    for q in held:
        ws = windows(tokenizer, q.question, q.context)
        with torch.no_grad():
            arrays = batch_arrays(ws)
            out = model(**{k: torch.from_numpy(v) for k, v in arrays.items()}).numpy()
        reading = read(ws, [out[i, : len(w.ids)] for i, w in enumerate(ws)], split_sentences(q.context))
        scores.append(reading.best_sentence)
        labels.append(bool(q.answers))
        if q.answers:
            top = max(reading.sentences, key=lambda s: s[2])
            sentence_right.append(any(s < top[1] and e > top[0] for s, e, _ in q.answers))
            guess = q.context[reading.span.start : reading.span.end] if reading.span else ""
            ems.append(max(exact_match(guess, t) for _, _, t in q.answers))
            f1s.append(max(token_f1(guess, t) for _, _, t in q.answers))
    return {
        "answerable_auc": round(_auc(scores, labels), 4),
        "answer_sentence_first": round(float(np.mean(sentence_right)), 4) if sentence_right else None,
        "short_answer_exact_match": round(float(np.mean(ems)), 4) if ems else None,
        "short_answer_f1": round(float(np.mean(f1s)), 4) if f1s else None,
    }


def _auc(scores: list[float], labels: list[bool]) -> float:
    area = auc([s for s, y in zip(scores, labels) if y], [s for s, y in zip(scores, labels) if not y])
    return float("nan") if area is None else area


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--limit", type=int, default=None, help="train on this many questions (a smoke run)")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--resume", action="store_true", help=f"continue from OUT/{CHECKPOINT} if a run left one")
    parser.add_argument(
        "--checkpoint-minutes",
        type=float,
        default=CHECKPOINT_MINUTES,
        help=f"write a checkpoint this often (default {CHECKPOINT_MINUTES:g})",
    )
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(
            f"error: training data {args.data} not found; pass --data PATH to squad2-half-dev.json.gz", file=sys.stderr
        )
        return 2
    figures = train(
        args.data, args.out, args.limit, args.epochs, resume=args.resume, checkpoint_minutes=args.checkpoint_minutes
    )
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
