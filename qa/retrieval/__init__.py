"""Retrieval: the passages for a question (hybrid dense + BM25), follow-up questions made standalone."""
