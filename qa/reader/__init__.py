"""The reader: a model trained by the project that decides which sentence answers, the short answer, and when
the passages do not answer (see qa/reader/weights/MODEL_CARD.md)."""
