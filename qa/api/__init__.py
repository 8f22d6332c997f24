"""The HTTP API (FastAPI): the Python API's questions, articles and status as JSON routes under /api, described by
/openapi.json, and served with the web UI on one port (`qa serve`, `python app.py`)."""

from qa.api.app import build_api

__all__ = ["build_api"]
