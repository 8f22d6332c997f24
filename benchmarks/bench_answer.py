"""Answering speed of the embedded backend: `python benchmarks/bench_answer.py [--answer-prompts N]`.

On the ~1k-chunk index cut from the RealTimeQA index: for N questions, the 5 passages `Assistant.retrieve`
picks are turned into the prompt qa sends (`qa.generation.prompts.answer_prompt`), and the bundled Gemma 3 270M streams
its answer through `EmbeddedLLM.stream` as `Assistant.ask` does it. Measured: model load, time to first token,
decode speed (tokens after the first ÷ time after the first), prompt size; then a sustained decode of 128
tokens with the stop sequences removed, and time to first token through `Assistant.ask(mode="generate")`.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from bench_common import (
    Section,
    Workspace,
    answerable,
    load_questions,
    log,
    ms,
    num,
    part_main,
    percentile,
    secs,
    stopwatch,
)


def stream_timed(llm: Any, prompt: Any, max_tokens: int) -> tuple[float, float, int, str]:
    """(seconds to first piece, seconds in all, pieces, text) of one streamed completion.

    llama.cpp streams one token per piece (a piece can hold two when a character spans tokens).
    """
    pieces: list[str] = []
    first = float("nan")
    started = time.perf_counter()
    for piece in llm.stream(prompt, max_tokens=max_tokens):
        if not pieces:
            first = time.perf_counter() - started
        pieces.append(piece)
    return first, time.perf_counter() - started, len(pieces), "".join(pieces)


def prompt_tokens(texts: list[str]) -> list[int]:
    """Prompt lengths in Gemma tokens (the tokenizer alone is loaded, not the weights)."""
    from llama_cpp import Llama

    from qa.generation.embedded import bundled_gguf

    vocab = Llama(model_path=str(bundled_gguf()), vocab_only=True, verbose=False)
    try:
        return [len(vocab.tokenize(text.encode("utf-8"))) for text in texts]
    finally:
        vocab.close()


def run(workspace: Workspace) -> Section:
    from qa import Assistant, Settings
    from qa.generation.prompts import answer_prompt

    opts = workspace.opts
    index_dir = workspace.index("1k")
    settings = Settings(index_dir=index_dir, backend="embedded", chroma_url=None)
    assistant = Assistant(settings)
    # Questions whose answer this small index holds first: the model answers rather than refuses.
    pool = load_questions(opts.data, 1000)
    wanted = max(opts.answer_prompts * 3, 10)
    questions = answerable(pool, index_dir)[:wanted]
    questions += [q for q in pool if q not in questions][: wanted - len(questions)]
    prompts = []
    for q in questions:
        passages = assistant.retrieve(q.text, top_k=5)
        if len(passages) == 5:
            prompts.append((q, answer_prompt(q.text, passages), max(p.score for p in passages)))
    ranked = sorted(prompts, key=lambda item: -item[2])
    prompts = ranked[: opts.answer_prompts]
    # Assistant.ask gets a question not streamed before: llama.cpp would otherwise find its whole prompt cached.
    ask_question = ranked[len(prompts)][0] if len(ranked) > len(prompts) else prompts[0][0]
    llm = assistant.backend("embedded").llm
    section = Section("4a. Answering: the embedded backend")

    with stopwatch() as load:
        stream_timed(llm, replace(prompts[0][1], completion="Hello"), 1)
    log(f"answer: model loaded in {load[0]:.1f} s; streaming {len(prompts)} 5-passage prompts")
    rows, firsts, decode_pieces, decode_seconds = [], [], 0, 0.0
    lengths = prompt_tokens([prompt.completion for _, prompt, _ in prompts])
    for (q, prompt, _), tokens in zip(prompts, lengths):
        first, total, pieces, _text = stream_timed(llm, prompt, settings.max_answer_tokens)
        firsts.append(first)
        if pieces > 1:
            decode_pieces += pieces - 1
            decode_seconds += total - first
        rate = (pieces - 1) / (total - first) if pieces > 1 and total > first else float("nan")
        rows.append(
            [
                q.text[:60] + ("…" if len(q.text) > 60 else ""),
                num(tokens),
                ms(first),
                num(tokens / first) if first == first else "–",
                str(pieces),
                num(rate, 1),
                secs(total),
            ]
        )
    sustained_prompt = replace(prompts[0][1], stop=())
    first, total, pieces, _ = stream_timed(llm, sustained_prompt, 128)
    sustained = (pieces - 1) / (total - first) if pieces > 1 else float("nan")

    tokens_seen: list[float] = []
    started = time.perf_counter()
    answer = assistant.ask(
        ask_question.text,
        backend="embedded",
        mode="generate",
        on_token=lambda _: tokens_seen.append(time.perf_counter() - started) if not tokens_seen else None,
    )
    ask_total = time.perf_counter() - started
    ask_first = tokens_seen[0] if tokens_seen else float("nan")

    section.intro = (
        f"The bundled {llm.model}, {settings.threads or 'all'} threads, {settings.embedded_context}-token context, "
        f"greedy; prompts as `Assistant.ask` builds them from the 5 passages retrieved on the ~1k-chunk index "
        f"(the {len(prompts)} questions whose passages match best, so the model answers rather than refuses). "
        "llama.cpp keeps the previous prompt's cache, so the worked examples every prompt opens with are not "
        "evaluated again after the first prompt. `Assistant.ask` is timed on one more question, not streamed before."
    )
    section.table(
        "Streaming the answer (`EmbeddedLLM.stream`, `max_answer_tokens` "
        f"{settings.max_answer_tokens}, stop sequences as qa sets them):",
        ["Question", "Prompt tokens", "First token", "Prompt tokens/s", "Tokens out", "Decode tokens/s", "Total"],
        rows,
    )
    overall_decode = decode_pieces / decode_seconds if decode_seconds else float("nan")
    section.table(
        "",
        ["Figure", "Value"],
        [
            ["model load (first call, a 1-token prompt)", secs(load[0])],
            ["time to first token, p50 over the prompts", ms(percentile(firsts, 50))],
            ["time to first token, first prompt (nothing cached)", ms(firsts[0])],
            ["decode speed over all answers", f"{num(overall_decode, 1)} tokens/s"],
            [f"sustained decode, {pieces} tokens without stop sequences", f"{num(sustained, 1)} tokens/s"],
            [
                "`Assistant.ask(mode='generate')`: call to first token (retrieval + prompt + first token)",
                ms(ask_first),
            ],
            [
                "`Assistant.ask(mode='generate')`: call to answer (generation and grounding included)",
                f"{secs(ask_total)} (timings: retrieve {answer.timings_ms.retrieve:.0f} ms, "
                f"generate {answer.timings_ms.generate:.0f} ms)",
            ],
        ],
    )
    return section


if __name__ == "__main__":
    part_main("answer", run)
