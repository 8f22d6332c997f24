"""The index: Chroma for chunks and their vectors, the embedder, the in-memory chunk table and BM25, the lock."""
