"""The reader network (torch): the MiniLM encoder and one linear head of four outputs per word piece.

- 0 and 1: where the short answer starts and ends (SQuAD 2.0 style: both at [CLS] when the window holds none);
- 2: whether this word piece belongs to a sentence that answers the question;
- 3: read at [CLS] only, whether this window answers the question at all (the passage score for reranking).

Only training and the one-time ONNX export import this module; answering runs the exported graph.
"""

from __future__ import annotations

from typing import Any

import torch

OUTPUTS = 4
START, END, SENTENCE, PASSAGE = range(OUTPUTS)


class ReaderNet(torch.nn.Module):
    def __init__(self, encoder: Any, hidden: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.Linear(hidden, OUTPUTS)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        return self.head(hidden)  # type: ignore[no-any-return]
