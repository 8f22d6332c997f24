"""Ingest: article files read within limits, parsed into articles, chunked, and written to the index."""
