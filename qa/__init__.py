"""Local question answering over news articles, with cited passages and honest refusals.

The public API: everything the CLI, the UI and the eval harness use is imported from here.
"""

# First, before any library that could call home is imported (see qa/offline.py).
import qa.offline  # noqa: F401

# isort: split

from qa.answer import Answer, Citation, ShortAnswer, Timings
from qa.assistant import Assistant, Status
from qa.backends import LLM, EmbeddedLLM, OllamaLLM
from qa.doctor import DoctorReport, Problem
from qa.documents import Article
from qa.embeddings import Embedder, SentenceTransformerEmbedder
from qa.errors import (
    BackendError,
    ChromaUnreachableError,
    ConfigError,
    DocumentError,
    IndexBusyError,
    IndexEmptyError,
    IndexMismatchError,
    InputError,
    ModelStoppedError,
    QAError,
    StoreError,
)
from qa.evals import EvalCase, EvalRun, compare_runs, evaluate, load_cases, write_report
from qa.followup import standalone_question
from qa.ingest import FailedFile, IngestReport, Progress
from qa.prompts import CANNOT_ANSWER
from qa.retrieval import Passage
from qa.settings import Settings, SettingsWarning
from qa.store import ArticleRecord
from qa.uploads import Upload, check_upload, keep_upload

__all__ = [
    "CANNOT_ANSWER",
    "LLM",
    "Answer",
    "Article",
    "ArticleRecord",
    "Assistant",
    "BackendError",
    "ChromaUnreachableError",
    "Citation",
    "ConfigError",
    "DoctorReport",
    "DocumentError",
    "EmbeddedLLM",
    "Embedder",
    "EvalCase",
    "EvalRun",
    "FailedFile",
    "IndexBusyError",
    "IndexEmptyError",
    "IndexMismatchError",
    "IngestReport",
    "InputError",
    "ModelStoppedError",
    "OllamaLLM",
    "Passage",
    "Problem",
    "Progress",
    "QAError",
    "SentenceTransformerEmbedder",
    "Settings",
    "SettingsWarning",
    "ShortAnswer",
    "Status",
    "StoreError",
    "Timings",
    "Upload",
    "check_upload",
    "compare_runs",
    "evaluate",
    "keep_upload",
    "load_cases",
    "standalone_question",
    "write_report",
]
