"""Question and passage as the reader sees them: word-piece windows that map back to characters.

Training and answering build windows with this one function, so the model reads at run time exactly what it
was trained on: `[CLS] question [SEP] a window of the passage [SEP]`, windows overlapping by `stride` word
pieces when a passage is longer than one window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MAX_TOKENS = 256  # a retrieved chunk is at most 256 word pieces: one window holds most with the question
STRIDE = 96
MAX_QUESTION_TOKENS = 64


@dataclass(frozen=True)
class Window:
    """One model input: its word pieces, and for each the characters of the passage it covers."""

    ids: list[int]
    type_ids: list[int]
    # (start, end) characters of the passage for passage word pieces; (-1, -1) for the question and markers.
    offsets: list[tuple[int, int]]

    @property
    def context(self) -> range:
        """Indices of the passage's word pieces in `ids`."""
        first = self.type_ids.index(1)
        return range(first, len(self.ids) - 1)


@lru_cache(maxsize=4)
def load_tokenizer(model_path: str) -> Tokenizer:
    """The base model's own fast tokenizer, with no truncation or padding of its own."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(model_path) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def windows(
    tokenizer: Tokenizer,
    question: str,
    passage: str,
    *,
    max_tokens: int = MAX_TOKENS,
    stride: int = STRIDE,
) -> list[Window]:
    """The windows that together cover `passage`, each led by the question."""
    cls, sep = (int(tokenizer.token_to_id(t) or 0) for t in ("[CLS]", "[SEP]"))
    asked = tokenizer.encode(question, add_special_tokens=False).ids[:MAX_QUESTION_TOKENS]
    encoded = tokenizer.encode(passage, add_special_tokens=False)
    ids, offsets = encoded.ids, encoded.offsets
    room = max_tokens - len(asked) - 3
    head = [cls, *asked, sep]
    found = []
    start = 0
    while True:
        piece = slice(start, start + room)
        found.append(
            Window(
                ids=[*head, *ids[piece], sep],
                type_ids=[0] * len(head) + [1] * (len(ids[piece]) + 1),
                offsets=[(-1, -1)] * len(head) + list(offsets[piece]) + [(-1, -1)],
            )
        )
        if start + room >= len(ids):
            return found
        start += room - stride


def batch_arrays(batch: Sequence[Window]) -> dict[str, np.ndarray]:
    """Padded int64 arrays of a batch of windows, as the model takes them."""
    width = max(len(w.ids) for w in batch)
    arrays = {
        name: np.zeros((len(batch), width), dtype=np.int64)
        for name in ("input_ids", "attention_mask", "token_type_ids")
    }
    for row, w in enumerate(batch):
        arrays["input_ids"][row, : len(w.ids)] = w.ids
        arrays["attention_mask"][row, : len(w.ids)] = 1
        arrays["token_type_ids"][row, : len(w.ids)] = w.type_ids
    return arrays
